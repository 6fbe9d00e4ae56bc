from __future__ import annotations

import pytest

from ponder.errors import UserError
from ponder.memory.memories import Candidate, MemoryStore, UnknownMemoryError
from ponder.memory.owner import Owner
from ponder.store import open_database
from ponder.testing import HashingEmbedder

ALICE, BOB = Owner(user="alice"), Owner(user="bob")


@pytest.fixture
def store(database_url: str) -> MemoryStore:
    return MemoryStore(open_database(database_url), HashingEmbedder())


def active(store: MemoryStore, owner: Owner) -> list[str]:
    return [m.text for m in store.list_memories(owner, statuses=["active"])]


def test_facts_are_stored_with_their_source(store: MemoryStore) -> None:
    [change] = store.remember(
        ALICE, [Candidate("The user is vegetarian.", "diet", "diet")], "conversation", session="s1", turn=3
    )
    assert change.action == "added"
    memory = store.get(ALICE, change.memory.id)
    assert (memory.source_session, memory.source_turn, memory.origin) == ("s1", 3, "conversation")
    assert memory.to_dict()["source"] == {"session": "s1", "turn": 3}


def test_duplicates_merge(store: MemoryStore) -> None:
    first = store.remember(ALICE, [Candidate("The user is vegetarian.", "diet", "diet")], "conversation")[0]
    again = store.remember(ALICE, [Candidate("the user is  vegetarian.", "diet", "diet")], "conversation")[0]
    assert again.action == "merged" and again.memory.id == first.memory.id
    assert again.memory.updated_at >= first.memory.updated_at
    assert active(store, ALICE) == ["The user is vegetarian."]


def test_a_contradiction_replaces_the_older_fact(store: MemoryStore) -> None:
    old = store.remember(
        ALICE, [Candidate("The user wears shoe size 42.", "size", "shoe size")], "conversation"
    )
    new = store.remember(
        ALICE, [Candidate("The user wears shoe size 44.", "size", "Shoe-Size")], "conversation"
    )
    assert new[0].action == "replaced" and new[0].replaced is not None
    assert new[0].replaced.id == old[0].memory.id and new[0].replaced.status == "superseded"
    assert new[0].replaced.superseded_by == new[0].memory.id
    assert active(store, ALICE) == ["The user wears shoe size 44."]
    hits = store.recall(ALICE, "what shoe size?", k=3)
    assert [m.text for m, _ in hits] == ["The user wears shoe size 44."]  # the old size is never recalled
    assert len(store.export(ALICE)["memories"]) == 2  # ...but the export shows the history


def test_untrusted_memories_wait_for_confirmation(store: MemoryStore) -> None:
    [change] = store.remember(ALICE, [Candidate("The user wants to buy 10 TVs.", "other")], "tool")
    assert change.action == "pending"
    assert store.recall(ALICE, "buy TVs", k=3) == []  # never used while pending
    confirmed = store.confirm(ALICE, change.memory.id)
    assert confirmed.action == "added" and confirmed.memory.origin == "user"
    assert [m.text for m, _ in store.recall(ALICE, "buy TVs", k=3)] == ["The user wants to buy 10 TVs."]
    with pytest.raises(UserError, match="not waiting"):
        store.confirm(ALICE, confirmed.memory.id)


def test_recall_ranks_by_similarity_and_respects_projects(store: MemoryStore) -> None:
    store.add(ALICE, "The user is allergic to peanuts.", "health")
    store.add(ALICE, "The user lives in Lisbon.", "place", "home city")
    work = Owner(user="alice", project="work")
    store.add(work, "The user's team ships on Fridays.", "work")
    top = store.recall(ALICE, "peanuts allergy?", k=1)
    assert [m.text for m, _ in top] == ["The user is allergic to peanuts."]
    assert "The user's team ships on Fridays." not in [
        m.text for m, _ in store.recall(ALICE, "team ships", k=5)
    ]
    in_work = [m.text for m, _ in store.recall(work, "team ships on Fridays", k=5)]
    assert in_work[0] == "The user's team ships on Fridays." and "The user lives in Lisbon." in in_work


def test_forget_removes_a_memory_and_what_it_replaced(store: MemoryStore) -> None:
    store.remember(ALICE, [Candidate("Budget is 100 euros.", "budget", "budget")], "conversation")
    newer = store.remember(ALICE, [Candidate("Budget is 300 euros.", "budget", "budget")], "conversation")[0]
    store.forget(ALICE, newer.memory.id)
    assert store.export(ALICE)["memories"] == [] and store.recall(ALICE, "budget", k=3) == []
    with pytest.raises(UnknownMemoryError):
        store.forget(ALICE, newer.memory.id)


def test_users_never_see_each_others_memories(store: MemoryStore) -> None:
    store.add(ALICE, "The user's PIN hint is blue.", "other")
    assert store.recall(BOB, "PIN hint blue", k=5) == []
    assert store.list_memories(BOB) == []
    alice_id = store.list_memories(ALICE)[0].id
    with pytest.raises(UnknownMemoryError):
        store.get(BOB, alice_id)
    with pytest.raises(UnknownMemoryError):
        store.forget(BOB, alice_id)
    other_account = Owner(account="acme", user="alice")
    assert store.recall(other_account, "PIN hint blue", k=5) == []


def test_another_process_writing_is_noticed(database_url: str) -> None:
    one = MemoryStore(open_database(database_url), HashingEmbedder())
    two = MemoryStore(open_database(database_url), HashingEmbedder())
    assert one.recall(ALICE, "coffee", k=3) == []
    two.add(ALICE, "The user drinks coffee black.", "diet")
    assert [m.text for m, _ in one.recall(ALICE, "coffee", k=3)] == ["The user drinks coffee black."]


def test_bad_memories(store: MemoryStore) -> None:
    with pytest.raises(UserError, match="needs some text"):
        store.add(ALICE, "   ")
    with pytest.raises(UserError, match="at most 500"):
        store.add(ALICE, "x" * 501)
    assert store.add(ALICE, "Likes jazz.", "MUSIC").memory.topic == "other"


def test_a_forgotten_user_who_comes_back_is_not_served_from_a_stale_cache(database_url: str) -> None:
    from ponder.memory.users import UserStore

    one = MemoryStore(open_database(database_url), HashingEmbedder())
    two = MemoryStore(open_database(database_url), HashingEmbedder())
    two.add(ALICE, "The user rides a blue bike.")
    assert [m.text for m, _ in one.recall(ALICE, "bike", k=3)] == ["The user rides a blue bike."]
    UserStore(two.db).forget(ALICE)
    two.add(BOB, "The user drinks tea.")
    two.add(ALICE, "The user drives a red car.")  # her version counter starts again from where it was
    assert [m.text for m, _ in one.recall(ALICE, "red car", k=3)] == ["The user drives a red car."]


def test_a_confirmed_memory_stays_in_its_project(store: MemoryStore) -> None:
    work = Owner(user="alice", project="work")
    [pending] = store.remember(work, [Candidate("The user's team uses Rust.", "work")], "tool")
    confirmed = store.confirm(ALICE, pending.memory.id)  # confirmed from outside the project
    assert confirmed.memory.project == "work"


def test_this_process_writes_update_the_kept_memories_in_place(store: MemoryStore) -> None:
    store.add(ALICE, "The user rides a blue bike.")
    store.recall(ALICE, "bike", k=3)
    kept = store._scopes[ALICE.key]
    added = store.remember(
        ALICE,
        [
            Candidate("The user lives in Porto.", "place", "home city"),
            Candidate("The user lives in Lisbon.", "place", "home city"),  # replaces Porto in the same write
        ],
        "conversation",
    )
    assert [c.action for c in added] == ["added", "replaced"]
    assert [m.text for m, _ in store.recall(ALICE, "Which city does the user live in?", k=5)][:2] == [
        "The user lives in Lisbon.",
        "The user rides a blue bike.",
    ]
    store.forget(ALICE, added[1].memory.id)
    assert [m.text for m, _ in store.recall(ALICE, "city", k=5)] == ["The user rides a blue bike."]
    assert store._scopes[ALICE.key] is kept  # updated, not loaded again


def test_a_write_by_another_process_between_two_of_ours_reloads(database_url: str) -> None:
    one = MemoryStore(open_database(database_url), HashingEmbedder())
    two = MemoryStore(open_database(database_url), HashingEmbedder())
    one.add(ALICE, "The user rides a blue bike.")
    one.recall(ALICE, "bike", k=3)
    two.add(ALICE, "The user drinks tea.")
    one.add(ALICE, "The user plays chess.")  # the version skipped one: one cannot patch what it kept
    assert sorted(m.text for m, _ in one.recall(ALICE, "user", k=5)) == [
        "The user drinks tea.",
        "The user plays chess.",
        "The user rides a blue bike.",
    ]
