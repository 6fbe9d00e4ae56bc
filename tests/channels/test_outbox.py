"""The outbox against the loopback Graph API: a reply's parts go out in order; a crash inside the duplicate
window (the platform took the send, the row does not say so yet) sends it again and counts it; a crash
before the call is counted the same way (the count is an upper bound); a closed 24-hour window turns the
reply into the channel's template; a final refusal fails the row and lets the next part go."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ponder.channels.base import Outbound
from ponder.channels.outbox import SEND_JOB, ChannelOutbox, queue_reply
from ponder.channels.whatsapp import WhatsAppChannel
from ponder.commerce.crashpoints import SimulatedCrash
from ponder.store import open_database
from ponder.store.async_jobs import RetryLater
from ponder.store.database import Database, sql
from ponder.store.jobs import JobQueue
from ponder.testing.platforms import FakeGraphAPI, graph_error_body

TOKEN = "graph-token"


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    with FakeGraphAPI(token=TOKEN) as fake:
        yield fake


class Crashing:
    """The channel, dying right after (or right before) the platform took a send, once."""

    def __init__(self, inner: WhatsAppChannel, *, after: bool) -> None:
        self.inner, self.after, self.armed = inner, after, True
        self.name, self.limits = inner.name, inner.limits

    async def send(self, client: httpx.AsyncClient, message: Outbound) -> str:
        if self.armed and not self.after:
            self.armed = False
            raise SimulatedCrash("before the call")
        sent = await self.inner.send(client, message)
        if self.armed:
            self.armed = False
            raise SimulatedCrash("after the platform took it")
        return sent


def whatsapp(graph: FakeGraphAPI, template: str = "") -> WhatsAppChannel:
    return WhatsAppChannel(
        "wa",
        base_url=graph.base_url + "/v21.0",
        phone_number_id="1065",
        access_token=TOKEN,
        app_secret="s",
        verify_token="v",
        template=template,
    )


def drain(db: Database, outbox: ChannelOutbox) -> None:
    """Run the send jobs as the channel workers would, until none is due (a retry made due at once)."""

    async def run() -> None:
        outbox.client = httpx.AsyncClient()  # one per event loop
        queue = JobQueue(db)
        while (job := queue.claim([SEND_JOB])) is not None:
            try:
                await outbox.deliver(job.payload, asyncio.to_thread)
            except RetryLater as later:
                queue.retry(job, str(later), after_s=0.0)
                continue
            except SimulatedCrash:  # the worker died holding the job: its lease ends, another takes it
                with db.transaction() as conn:
                    conn.execute(sql("UPDATE jobs SET lease_until = 0 WHERE id = :id"), {"id": job.id})
                continue
            queue.complete(job)

    asyncio.run(run())


def row(db: Database, key: str) -> dict[str, Any]:
    with db.reading() as conn:
        found = (
            conn.execute(sql("SELECT * FROM channel_outbox WHERE send_key = :k"), {"k": key}).mappings().one()
        )
    return dict(found)


def reply(db: Database, *texts: str) -> None:
    with db.transaction() as conn:
        queue_reply(conn, "wa", "in:m1", [Outbound("1555", t) for t in texts])


@pytest.mark.parametrize("after", [True, False])
def test_a_crash_in_the_window_sends_again_and_is_counted(
    database_url: str, graph: FakeGraphAPI, after: bool
) -> None:
    db = open_database(database_url)
    channel = Crashing(whatsapp(graph), after=after)
    outbox = ChannelOutbox(db, {"wa": channel}, None)  # type: ignore[dict-item,arg-type]
    reply(db, "first part", "second part")
    drain(db, outbox)
    bodies = [r.json["text"]["body"] for r in graph.sent]
    assert bodies == (["first part", "first part", "second part"] if after else ["first part", "second part"])
    assert outbox.uncertain("wa") == 1  # counted either way: Ponder cannot tell which it was
    assert row(db, "in:m1#0")["state"] == row(db, "in:m1#1")["state"] == "sent"


def test_a_closed_window_sends_the_template_instead(database_url: str, graph: FakeGraphAPI) -> None:
    db = open_database(database_url)
    outbox = ChannelOutbox(db, {"wa": whatsapp(graph, template="back_in_touch")}, None)  # type: ignore[arg-type]
    reply(db, "Your refund is on its way.")
    graph.fail_next(1, 400, graph_error_body(131047))
    drain(db, outbox)
    refused, template = (r.json for r in graph.sent)
    assert refused["type"] == "text" and template["type"] == "template"
    assert template["template"]["name"] == "back_in_touch" and outbox.uncertain() == 0


def test_a_final_refusal_fails_the_part_and_the_next_one_goes(database_url: str, graph: FakeGraphAPI) -> None:
    db = open_database(database_url)
    outbox = ChannelOutbox(db, {"wa": whatsapp(graph)}, None)  # type: ignore[arg-type]
    reply(db, "one", "two")
    graph.fail_next(1, 400, graph_error_body(100))  # invalid parameter: sending again fails the same way
    drain(db, outbox)
    assert row(db, "in:m1#0")["state"] == "failed" and row(db, "in:m1#0")["error"]
    assert row(db, "in:m1#1")["state"] == "sent"
    graph.fail_next(2, 500)
    with db.transaction() as conn:
        queue_reply(conn, "wa", "in:m2", [Outbound("1555", "three")])
    drain(db, outbox)  # two 500s, then the platform takes it
    assert [r.json["text"]["body"] for r in graph.sent if r.json["text"]["body"] == "three"] == ["three"] * 3
    assert row(db, "in:m2#0")["state"] == "sent" and row(db, "in:m2#0")["attempts"] == 3
