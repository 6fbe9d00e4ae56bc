"""Stored responses (the Responses API's): kept per account, found by id, the latest of a session known,
deleted; on SQLite and on PostgreSQL."""

from __future__ import annotations

from ponder.memory.owner import Owner
from ponder.store import open_database
from ponder.store.responses import ResponseStore


def test_a_response_is_found_by_id_in_its_account_only_and_knows_whether_it_is_the_latest(
    database_url: str,
) -> None:
    db = open_database(database_url)
    try:
        store = ResponseStore(db)
        ada = Owner("acme", "ada")
        items = [{"id": "msg_1", "type": "message", "role": "user", "content": []}]
        store.save(ada, "s_1", 0, {"id": "resp_a", "output": []}, items)
        first = store.get("acme", "resp_a")
        assert first is not None and first.latest
        assert (first.user, first.session_id, first.turn, first.input) == ("ada", "s_1", 0, items)
        store.save(ada, "s_1", 1, {"id": "resp_b", "output": []}, [])
        store.save(Owner("acme", "bob"), "s_1", 5, {"id": "resp_c", "output": []}, [])  # another user's s_1
        first, second = store.get("acme", "resp_a"), store.get("acme", "resp_b")
        assert first is not None and not first.latest
        assert second is not None and second.latest and second.body == {"id": "resp_b", "output": []}
        assert store.get("globex", "resp_a") is None  # another account's id is unknown
        assert not store.delete("globex", "resp_a")
        assert store.delete("acme", "resp_a") and store.get("acme", "resp_a") is None
        assert not store.delete("acme", "resp_a")
    finally:
        db.close()
