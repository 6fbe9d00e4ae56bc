"""The inbox and the outbox's rows on both databases: a redelivered message is taken once and queued once,
and forgetting a person removes what their threads said and were sent."""

from __future__ import annotations

from ponder.channels.base import Inbound, Outbound
from ponder.channels.inbox import INBOUND_JOB, ChannelInbox
from ponder.channels.outbox import SEND_JOB, queue_reply
from ponder.memory.owner import Owner
from ponder.memory.users import UserStore
from ponder.store import open_database
from ponder.store.database import Database, sql
from ponder.store.jobs import JobQueue


def message(message_id: str, thread: str = "1555") -> Inbound:
    return Inbound(message_id=message_id, sender=thread, thread=thread, kind="text", at=1.0, text="hi")


def count(db: Database, table: str) -> int:
    with db.reading() as conn:
        return int(conn.execute(sql(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_a_redelivered_message_is_taken_and_queued_once(database_url: str) -> None:
    db = open_database(database_url)
    inbox = ChannelInbox(db)
    assert inbox.take("wa", [message("m1"), message("m2")]) == [message("m1"), message("m2")]
    assert inbox.take("wa", [message("m1")]) == []  # the platform's retry
    assert inbox.take("tg", [message("m1")]) == [message("m1")]  # another channel's id space
    assert count(db, "channel_inbox") == 3
    assert JobQueue(db).state(INBOUND_JOB, "wa:m1") == "queued"
    assert inbox.get("wa", "m1") == (message("m1"), "new")


def test_forgetting_a_person_removes_their_threads_messages_and_replies(database_url: str) -> None:
    db = open_database(database_url)
    ChannelInbox(db).take("wa", [message("m1", "1555"), message("m2", "1666")])
    with db.transaction() as conn:
        for thread in ("1555", "1666"):
            conn.execute(
                sql(
                    "INSERT INTO channel_threads (channel, thread, account, user_id, session_id, "
                    "last_inbound_at) VALUES ('wa', :t, 'shop', :u, :s, 1)"
                ),
                {"t": thread, "u": f"whatsapp:{thread}", "s": f"wa:{thread}"},
            )
            queue_reply(conn, "wa", f"in:{thread}", [Outbound(thread, "hello"), Outbound(thread, "again")])
    assert JobQueue(db).state(SEND_JOB, "wa:in:1555#0") == "queued"
    assert JobQueue(db).state(SEND_JOB, "wa:in:1555#1") is None  # the next part waits for the first
    UserStore(db).ensure(Owner("shop", "whatsapp:1555"))
    gone = UserStore(db).forget(Owner("shop", "whatsapp:1555"))
    assert (gone["channel_inbox"], gone["channel_outbox"], gone["channel_threads"]) == (1, 2, 1)
    assert (count(db, "channel_inbox"), count(db, "channel_outbox"), count(db, "channel_threads")) == (
        1,
        2,
        1,
    )
