from __future__ import annotations

import pytest
import sqlalchemy

from ponder.errors import UserError
from ponder.memory.owner import Owner
from ponder.memory.sessions import SessionStore, UnknownSessionError
from ponder.messages import AudioPart, Message, TextPart, ToolCallPart
from ponder.store import open_database

ALICE, BOB = Owner(user="alice"), Owner(user="bob")
u, a = Message.user, Message.assistant


@pytest.fixture
def store(database_url: str) -> SessionStore:
    return SessionStore(open_database(database_url))


def texts(messages: list[Message]) -> list[str]:
    return [f"{m.role[0]}:{m.text}" for m in messages]


def test_turns_are_stored_in_order_and_resumed(store: SessionStore) -> None:
    s = store.open(ALICE, "trip")
    assert store.record(ALICE, s.id, [u("I am vegetarian."), a("Noted.")]) == 0
    assert store.record(ALICE, s.id, [u("Plan dinner."), a("Risotto.")]) == 1
    assert texts([m.message for m in store.history(ALICE, "trip")]) == [
        "u:I am vegetarian.",
        "a:Noted.",
        "u:Plan dinner.",
        "a:Risotto.",
    ]
    info = store.info(ALICE, "trip")
    assert (info.messages, info.turns, info.title) == (4, 2, "I am vegetarian.")
    assert [x.id for x in store.list_sessions(ALICE)] == ["trip"]


def test_a_resent_history_stores_only_the_new_turn(store: SessionStore) -> None:
    store.open(ALICE, "c")
    store.record(ALICE, "c", [u("hi"), a("hello")])
    resumed = store.resume(ALICE, "c", [Message.system("be brief"), u("hi"), a("hello"), u("and now?")])
    assert texts(resumed.history) == ["u:hi", "a:hello"]
    assert texts(resumed.new) == ["u:and now?"] and resumed.branch_at is None


def test_the_new_turn_alone_follows_the_stored_history(store: SessionStore) -> None:
    store.open(ALICE, "c")
    store.record(ALICE, "c", [u("hi"), a("hello")])
    resumed = store.resume(ALICE, "c", [u("hi")])  # one message is always a new turn, even a repeated one
    assert texts(resumed.history) == ["u:hi", "a:hello"] and texts(resumed.new) == ["u:hi"]


def test_an_edited_history_becomes_a_branch_and_nothing_is_lost(store: SessionStore) -> None:
    store.open(ALICE, "c")
    store.record(ALICE, "c", [u("one"), a("1")])
    store.record(ALICE, "c", [u("two"), a("2")])
    resumed = store.resume(ALICE, "c", [u("one"), a("1"), u("TWO, edited")])
    assert resumed.branch_at == 2 and texts(resumed.history) == ["u:one", "a:1"]
    store.record(ALICE, "c", [*resumed.new, a("2!")], branch_at=resumed.branch_at)
    assert texts([m.message for m in store.history(ALICE, "c")]) == ["u:one", "a:1", "u:TWO, edited", "a:2!"]
    assert len(store.transcript(ALICE, "c")) == 6  # the first version is still there


def test_a_history_that_stops_short_regenerates_the_last_answer(store: SessionStore) -> None:
    """A regenerate button, or a retry of a turn whose answer was stored but lost on the way."""
    store.open(ALICE, "c")
    store.record(ALICE, "c", [u("one"), a("1")])
    store.record(ALICE, "c", [u("two"), a("2")])
    resumed = store.resume(ALICE, "c", [u("one"), a("1"), u("two")])
    assert resumed.branch_at == 2 and texts(resumed.history) == ["u:one", "a:1"]
    assert texts(resumed.new) == ["u:two"]
    store.record(ALICE, "c", [*resumed.new, a("two!")], branch_at=resumed.branch_at)
    assert texts([m.message for m in store.history(ALICE, "c")]) == ["u:one", "a:1", "u:two", "a:two!"]


def test_media_is_not_kept_but_recognised_when_resent(store: SessionStore) -> None:
    clip = Message("user", (AudioPart(b"RIFF....", "audio/wav"),))
    heard = Message("user", (TextPart("what time is it", origin="audio"),))
    resumed = store.resume(ALICE, "v", [clip])
    store.record(ALICE, "v", [heard, a("noon")], fingerprints=[resumed.fingerprints[0], None])
    again = store.resume(ALICE, "v", [clip, a("noon"), u("thanks")])
    assert texts(again.new) == ["u:thanks"]
    assert store.history(ALICE, "v")[0].message.parts == (TextPart("what time is it", origin="audio"),)


def test_tool_calls_round_trip(store: SessionStore) -> None:
    call = Message("assistant", (ToolCallPart("c1", "weather", {"city": "Oslo"}),))
    store.open(ALICE, "t")
    store.record(ALICE, "t", [u("weather?"), call])
    assert store.history(ALICE, "t")[1].message == call


def test_sessions_are_per_user(store: SessionStore) -> None:
    store.open(ALICE, "same-id")
    store.record(ALICE, "same-id", [u("alice's secret"), a("ok")])
    store.open(BOB, "same-id")  # the same id for another user is another session
    assert store.history(BOB, "same-id") == []
    with pytest.raises(UnknownSessionError):
        store.info(BOB, "other")
    with pytest.raises(UnknownSessionError):
        store.delete(BOB, "nope")
    assert store.delete(BOB, "same-id") == 0
    assert len(store.history(ALICE, "same-id")) == 2


def test_delete_removes_the_messages(store: SessionStore) -> None:
    store.open(ALICE, "d")
    store.record(ALICE, "d", [u("x"), a("y")])
    assert store.delete(ALICE, "d") == 2
    assert store.transcript(ALICE, "d") == [] and store.list_sessions(ALICE) == []


def test_bad_ids(store: SessionStore) -> None:
    with pytest.raises(UserError, match="session id"):
        store.open(ALICE, "../etc")
    with pytest.raises(UnknownSessionError):
        store.record(ALICE, "never-opened", [u("x")])


def _turn(store: SessionStore, session: str, words: str) -> None:
    resumed = store.resume(ALICE, session, [Message.user(words)])
    store.record(ALICE, session, [*resumed.new, Message.assistant(f"re: {words}")])


def test_a_resumed_session_is_what_a_fresh_read_finds(database_url: str) -> None:
    db = open_database(database_url)
    kept, fresh = SessionStore(db), SessionStore(db)
    turn_one = Message("user", (TextPart("Look"), AudioPart(b"RIFF", "wav")))
    resumed = kept.resume(ALICE, "s", [turn_one])
    kept.record(ALICE, "s", [*resumed.new, Message.assistant("Heard.")], meta=[{"a": 1}, {"mode": "instant"}])
    for words in ("one", "two"):
        _turn(kept, "s", words)
    statements: list[str] = []
    sqlalchemy.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    again = kept.resume(ALICE, "s", [Message.user("three")])
    assert not [s for s in statements if "FROM messages WHERE" in s and "ORDER BY seq" in s]  # kept, not read
    assert again.history == fresh.resume(ALICE, "s", [Message.user("three")]).history
    assert [m.meta for m in kept.history(ALICE, "s")] == [m.meta for m in fresh.history(ALICE, "s")]


def test_a_session_written_elsewhere_or_made_again_is_read_afresh(database_url: str) -> None:
    db = open_database(database_url)
    here, elsewhere = SessionStore(db), SessionStore(db)  # two processes, each with what it keeps
    _turn(here, "s", "one")
    _turn(elsewhere, "s", "two")
    assert texts(here.resume(ALICE, "s", [u("three")]).history) == [
        "u:one",
        "a:re: one",
        "u:two",
        "a:re: two",
    ]
    elsewhere.delete(ALICE, "s")
    _turn(elsewhere, "s", "anew")
    assert texts(here.resume(ALICE, "s", [u("x")]).history) == ["u:anew", "a:re: anew"]
