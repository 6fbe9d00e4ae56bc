from __future__ import annotations

from pathlib import Path

import pytest

from ponder.memory.memories import MemoryStore
from ponder.memory.owner import Owner
from ponder.memory.sessions import SessionStore
from ponder.memory.users import UnknownUserError, UserStore
from ponder.messages import Message
from ponder.store import open_database
from ponder.testing import HashingEmbedder

ANN, BOB = Owner(user="ann"), Owner(user="bob")


def test_forgetting_a_user_deletes_every_row_and_keeps_the_others(database_url: str) -> None:
    db = open_database(database_url)
    sessions, memories, users = SessionStore(db), MemoryStore(db, HashingEmbedder()), UserStore(db)
    for owner in (ANN, BOB):
        sessions.open(owner, "s")
        sessions.record(owner, "s", [Message.user(f"hi from {owner.user}"), Message.assistant("hello")])
        memories.add(owner, f"The user is {owner.user}.")
    deleted = users.forget(ANN)
    assert {table: n for table, n in deleted.items() if n} == {
        "messages": 2,
        "sessions": 1,
        "memories": 1,
        "users": 1,
    }
    assert not users.exists(ANN) and sessions.list_sessions(ANN) == [] and memories.list_memories(ANN) == []
    with pytest.raises(UnknownUserError, match="No user 'ann' in account 'local'"):
        users.require(ANN)
    assert len(sessions.history(BOB, "s")) == 2 and len(memories.list_memories(BOB)) == 1


def test_forgotten_text_is_not_left_in_the_sqlite_files(tmp_path: Path) -> None:
    db = open_database(tmp_path / "p.db")
    marker = "ZEBRA-SECRET-4711"
    SessionStore(db).open(ANN, "s")
    SessionStore(db).record(ANN, "s", [Message.user(f"my code is {marker}"), Message.assistant("ok")])
    MemoryStore(db, HashingEmbedder()).add(ANN, f"The user's code is {marker}.")
    UserStore(db).forget(ANN)
    for path in tmp_path.iterdir():  # the database, its WAL and shared-memory files
        assert marker.encode() not in path.read_bytes(), path.name
