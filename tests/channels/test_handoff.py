"""A person's reply to a hand-off, queued into the thread the ticket came from: rendered for its platform,
as the channel's template once the 24-hour window has closed, and refused for a ticket from no thread."""

from __future__ import annotations

import json
import time

import pytest

from ponder.channels.handoff import reply_to_ticket
from ponder.commerce.support import SupportQueue
from ponder.errors import NotFoundError, UserError
from ponder.memory.owner import Owner
from ponder.store import open_database
from ponder.store.database import Database, sql

ANN = Owner("shop", "whatsapp:1555")


def thread(db: Database, last_wrote: float) -> None:
    with db.transaction() as conn:
        conn.execute(
            sql(
                "INSERT INTO channel_threads (channel, thread, account, user_id, session_id, "
                "last_inbound_at) VALUES ('wa', '1555', 'shop', :user, 'wa:1555', :at)"
            ),
            {"user": ANN.user, "at": last_wrote},
        )


def queued(db: Database) -> list[dict[str, object]]:
    with db.reading() as conn:
        rows = conn.execute(sql("SELECT message FROM channel_outbox ORDER BY send_key")).scalars().all()
    return [json.loads(r) for r in rows]


def test_a_reply_in_the_window_is_rendered_for_the_thread(database_url: str) -> None:
    db = open_database(database_url)
    support = SupportQueue(db)
    thread(db, time.time() - 60)
    ticket = support.open_ticket(ANN, "refund question", "asked about a refund", "wa:1555")
    done = reply_to_ticket(db, support, "shop", ticket.id, "It is **on its way**.", close=True)
    assert (done.channel, done.thread, done.parts, done.closed) == ("wa", "1555", 1, True)
    [sent] = queued(db)
    assert sent["text"] == "It is *on its way*." and sent["template"] is False
    assert support.get("shop", ticket.id).status == "closed"


def test_after_the_window_only_the_template_is_queued(database_url: str) -> None:
    db = open_database(database_url)
    support = SupportQueue(db)
    thread(db, time.time() - 25 * 3600)
    ticket = support.open_ticket(ANN, "refund question", "asked about a refund", "wa:1555")
    reply_to_ticket(db, support, "shop", ticket.id, "Long answer. " * 400)
    [sent] = queued(db)
    assert sent["template"] is True


def test_a_ticket_from_no_thread_or_no_ticket_is_refused(database_url: str) -> None:
    db = open_database(database_url)
    support = SupportQueue(db)
    web = support.open_ticket(Owner("shop", "ann"), "help", "from the web page", None)
    with pytest.raises(UserError, match="did not come from a messaging thread"):
        reply_to_ticket(db, support, "shop", web.id, "hello")
    with pytest.raises(NotFoundError):
        reply_to_ticket(db, support, "shop", 999, "hello")
    with pytest.raises(UserError, match="needs some text"):
        reply_to_ticket(db, support, "shop", web.id, "   ")
    assert queued(db) == []
