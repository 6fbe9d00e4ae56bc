"""The durable outbox: every reply is a row (``channel_outbox``) written in the transaction that decides it,
and sent by a ``channel.send`` job, retried with backoff that honours the platform's ``Retry-After`` and error
codes, until the platform takes it or says it never will.

The parts of one reply go out in order: only the first part's job is queued with the reply; each part's
job queues the next part's once the platform took it.

**The duplicate window.** The platforms' send calls take no idempotency key, so the one thing that can
duplicate a reply is a crash after the platform accepted a send and before its row says so. The window is
kept to that: the row is marked ``sending`` (committed) just before the call, and ``sent`` with the
platform's id in the first statement after it. A job that finds its row still ``sending`` knows an earlier
attempt died inside the window; it sends again (never zero replies) and counts it in ``uncertain``
(``ChannelOutbox.uncertain``: each count may be a duplicate; a crash before the call reached the platform
is counted too, so it is an upper bound).

**The 24-hour window** (WhatsApp): a send the platform refuses because the person last wrote more than 24
hours ago is sent again as the channel's template; without one, the row is ``failed`` with the reason.

Not here: what to reply (threads.py), the platform's wire format (each adapter).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any, Final

import httpx
from sqlalchemy.engine import Connection

from ponder.channels.base import Channel, Choice, ListItem, Outbound, SendFailed
from ponder.store.async_jobs import RetryLater
from ponder.store.database import Database, sql
from ponder.store.jobs import enqueue

__all__ = ["SEND_JOB", "ChannelOutbox", "queue_reply"]

log = logging.getLogger(__name__)

SEND_JOB: Final = "channel.send"  # payload: {"channel", "send_key"}


def queue_reply(db: Connection, channel: str, key: str, parts: list[Outbound]) -> None:
    """In the caller's transaction: the parts of one reply as outbox rows ``KEY#0``, ``KEY#1``...; the
    first part's send job is queued now, each next one when the part before it is sent."""
    now = time.time()
    for n, part in enumerate(parts):
        db.execute(
            sql(
                "INSERT INTO channel_outbox (channel, send_key, thread, message, state, queued_at) "
                "VALUES (:c, :k, :thread, :message, 'queued', :now) ON CONFLICT DO NOTHING"
            ),
            {
                "c": channel,
                "k": f"{key}#{n}",
                "thread": part.thread,
                "message": json.dumps(dataclasses.asdict(part)),
                "now": now,
            },
        )
    if parts:
        _queue_send(db, channel, f"{key}#0")


def _queue_send(db: Connection, channel: str, send_key: str) -> None:
    enqueue(
        db, SEND_JOB, f"{channel}:{send_key}", {"channel": channel, "send_key": send_key}, max_attempts=12
    )


class ChannelOutbox:
    """Sends the outbox's rows for the configured channels."""

    def __init__(self, db: Database, channels: dict[str, Channel], client: httpx.AsyncClient) -> None:
        self.db = db
        self.channels = channels
        self.client = client

    async def deliver(self, payload: dict[str, Any], in_thread: Any) -> None:
        """The ``channel.send`` job: send the row once more unless it is sent (``RetryLater``: not now).
        ``in_thread`` runs the database work off the event loop."""
        name, key = str(payload["channel"]), str(payload["send_key"])
        row = await in_thread(self._begin, name, key)
        if row is None:
            return  # sent, or failed for good, by an earlier attempt
        channel = self.channels.get(name)
        if channel is None:
            raise RetryLater(f"No channel '{name}' is configured here now.", None)
        message = _outbound(row["message"])
        try:
            platform_id = await channel.send(self.client, message)
        except SendFailed as err:
            if err.outside_window and not message.template:
                await in_thread(self._as_template, name, key, message)
                raise RetryLater("outside the customer-service window: sending the template", 0.0) from None
            if err.retry_after is None:
                await in_thread(self._failed, name, key, str(err))
                return
            await in_thread(self._back_to_queued, name, key, str(err))
            raise RetryLater(str(err), err.retry_after or None) from None
        await in_thread(self._sent, name, key, platform_id)

    # --- the row, each step its own short transaction --------------------------------------------------

    def _begin(self, channel: str, key: str) -> dict[str, Any] | None:
        """Mark the row ``sending`` (counting an earlier attempt that died sending); None if done."""
        with self.db.transaction() as db:
            row = (
                db.execute(
                    sql("SELECT message, state FROM channel_outbox WHERE channel = :c AND send_key = :k"),
                    {"c": channel, "k": key},
                )
                .mappings()
                .first()
            )
            if row is None or row["state"] in ("sent", "failed"):
                return None
            if row["state"] == "sending":
                log.warning("channel %s: send %s died in the duplicate window; sending again", channel, key)
            db.execute(
                sql(
                    "UPDATE channel_outbox SET state = 'sending', attempts = attempts + 1, "
                    "uncertain = uncertain + CASE WHEN state = 'sending' THEN 1 ELSE 0 END "
                    "WHERE channel = :c AND send_key = :k"
                ),
                {"c": channel, "k": key},
            )
            return dict(row)

    def _sent(self, channel: str, key: str, platform_id: str) -> None:
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "UPDATE channel_outbox SET state = 'sent', platform_id = :pid, sent_at = :now, "
                    "error = '' WHERE channel = :c AND send_key = :k"
                ),
                {"c": channel, "k": key, "pid": platform_id, "now": time.time()},
            )
            self._next(db, channel, key)

    def _failed(self, channel: str, key: str, error: str) -> None:
        log.error("channel %s: send %s failed for good: %s", channel, key, error)
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "UPDATE channel_outbox SET state = 'failed', error = :error "
                    "WHERE channel = :c AND send_key = :k"
                ),
                {"c": channel, "k": key, "error": error[:1000]},
            )
            self._next(db, channel, key)

    def _back_to_queued(self, channel: str, key: str, error: str) -> None:
        """The platform refused the send: it did not reach the person, so the next try is no duplicate."""
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "UPDATE channel_outbox SET state = 'queued', error = :error "
                    "WHERE channel = :c AND send_key = :k"
                ),
                {"c": channel, "k": key, "error": error[:1000]},
            )

    def _as_template(self, channel: str, key: str, message: Outbound) -> None:
        template = dataclasses.replace(message, template=True, choices=(), items=())
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "UPDATE channel_outbox SET state = 'queued', message = :message "
                    "WHERE channel = :c AND send_key = :k"
                ),
                {"c": channel, "k": key, "message": json.dumps(dataclasses.asdict(template))},
            )

    def _next(self, db: Connection, channel: str, key: str) -> None:
        """Queue the send of the reply's next part, if there is one."""
        stem, _, n = key.rpartition("#")
        following = f"{stem}#{int(n) + 1}"
        found = db.execute(
            sql("SELECT 1 FROM channel_outbox WHERE channel = :c AND send_key = :k"),
            {"c": channel, "k": following},
        ).first()
        if found is not None:
            _queue_send(db, channel, following)

    # --- what was sent, for the bench and the tests ------------------------------------------------------

    def uncertain(self, channel: str | None = None) -> int:
        """Sends that were begun again after an attempt died in the duplicate window (each may be a
        duplicate the person received)."""
        with self.db.reading() as db:
            found = db.execute(
                sql(
                    "SELECT COALESCE(SUM(uncertain), 0) FROM channel_outbox"
                    + (" WHERE channel = :c" if channel else "")
                ),
                {"c": channel},
            ).scalar()
        return int(found or 0)


def _outbound(raw: str) -> Outbound:
    data = json.loads(raw)
    data["choices"] = tuple(Choice(**c) for c in data.get("choices") or ())
    data["items"] = tuple(ListItem(**i) for i in data.get("items") or ())
    return Outbound(**data)
