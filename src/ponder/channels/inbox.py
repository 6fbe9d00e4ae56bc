"""The durable inbox: every message a platform delivers is written here, keyed by the platform's own id,
before the webhook answers 200; a ``channel.inbound`` job, queued in the same transaction, answers it later.

Platforms deliver at least once and deliver again when the answer is slow or lost, so the key makes a
redelivery a no-op: the row exists, nothing is queued again, and the webhook still answers 200 (the
platform must stop retrying). The webhook never waits for the model: it writes and answers, well within
the platforms' timeouts.

Not here: answering a message (threads.py), sending (outbox.py).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Final

from sqlalchemy.engine import Connection

from ponder.channels.base import Inbound
from ponder.store.database import Database, sql
from ponder.store.jobs import enqueue

__all__ = ["INBOUND_JOB", "ChannelInbox", "inbound_from_json"]

INBOUND_JOB: Final = "channel.inbound"  # payload: {"channel", "message_id", "thread"}


class ChannelInbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def take(self, channel: str, messages: list[Inbound]) -> list[Inbound]:
        """Write the messages not seen before and queue each to be answered, in one transaction; the new
        ones (a redelivery's are not)."""
        if not messages:
            return []
        now = time.time()
        new: list[Inbound] = []
        with self.db.transaction() as db:
            for message in messages:
                if _insert(db, channel, message, now):
                    enqueue(
                        db,
                        INBOUND_JOB,
                        f"{channel}:{message.message_id}",
                        {"channel": channel, "message_id": message.message_id, "thread": message.thread},
                        max_attempts=5,
                    )
                    new.append(message)
        return new

    def get(self, channel: str, message_id: str) -> tuple[Inbound, str] | None:
        """A message of the inbox and its state (new, answered), or None."""
        with self.db.reading() as db:
            row = (
                db.execute(
                    sql("SELECT message, state FROM channel_inbox WHERE channel = :c AND message_id = :m"),
                    {"c": channel, "m": message_id},
                )
                .mappings()
                .first()
            )
        return None if row is None else (inbound_from_json(row["message"]), str(row["state"]))


def _insert(db: Connection, channel: str, message: Inbound, now: float) -> bool:
    """Insert the message unless its id is known; whether it was new."""
    inserted = db.execute(
        sql(
            "INSERT INTO channel_inbox (channel, message_id, thread, message, state, received_at) "
            "VALUES (:c, :m, :thread, :message, 'new', :now) ON CONFLICT DO NOTHING"
        ),
        {
            "c": channel,
            "m": message.message_id,
            "thread": message.thread,
            "message": json.dumps(dataclasses.asdict(message)),
            "now": now,
        },
    ).rowcount
    return inserted == 1


def inbound_from_json(raw: str) -> Inbound:
    return Inbound(**json.loads(raw))
