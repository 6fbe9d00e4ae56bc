"""Isolation (issue 7): whatever sequence of operations runs, no owner ever reads another's sessions,
memories or interest signals, and forgetting a user leaves nothing of them and everything of everyone else.

A hypothesis state machine drives the session, memory, interest and user stores for six owners: two
accounts that both have an ``ann`` and a ``bob`` (same names, different people) and one user of their own
each, in two projects, with session ids shared between them. Every text written carries a fresh marker
(``mk17z``) that the model ties to the owner it was written for, so a leaked row names its owner wherever it
turns up. After every step each owner reads everything back through the stores and must get exactly what
the model says is theirs; then every row of every table with a ``user_id`` is checked against the model.
Operations on another owner's session or memory must fail with the NotFoundError and change no row.

Not here: what the stores do for one owner (merging, branching, profile arithmetic), which
test_memories.py, test_sessions.py and test_interests.py test; the model mirrors those rules only as far as
it must to know what each owner should read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ponder.memory.interests import KINDS, InterestStore, InvalidEventsError
from ponder.memory.memories import (
    SINGLE_VALUED,
    TRUSTED,
    Candidate,
    Change,
    MemoryStore,
    Origin,
    UnknownMemoryError,
)
from ponder.memory.owner import Owner
from ponder.memory.sessions import SessionStore, UnknownSessionError
from ponder.memory.users import KEPT_TABLES, PERSONAL_TABLES, UnknownUserError, UserStore
from ponder.messages import Message
from ponder.store import Database, open_database
from ponder.testing import HashingEmbedder

Key = tuple[str, str]  # (account, user): whose data a row is
Turn = tuple[str, str]  # (role, text) of a stored message

ACCOUNTS = {"acme": ("ann", "bob", "cy"), "globex": ("ann", "bob", "dee")}
KEYS: tuple[Key, ...] = tuple((account, user) for account, users in ACCOUNTS.items() for user in users)
PROJECTS = ("", "shop")
SESSION_IDS = ("s1", "chat")  # few, so that owners often share one
ORIGINS: tuple[Origin, ...] = ("user", "conversation", "import", "tool", "image")  # "user": MemoryStore.add
FACTS = (("other", ""), ("size", "shoe size"))  # (topic, slot): a second "size" fact replaces the first
MARKER = re.compile(r"\bmk\d+z\b")

# Sized so that each backend runs in well under a minute on a busy machine (on two shared cores: SQLite
# 7-15 s, PostgreSQL 16-30 s). Each step is followed by some 60 reads (every owner reads everything).
SETTINGS = settings(max_examples=12, stateful_step_count=25, deadline=None)

owners = st.sampled_from(KEYS)
projects = st.sampled_from(PROJECTS)
session_ids = st.sampled_from(SESSION_IDS)
picks = st.integers(0, 1_000)  # an index into a list the model builds, taken modulo its length


@dataclass
class ModelSession:
    project: str
    rows: list[tuple[str, str, int | None]] = field(default_factory=list)  # (role, text, branch_at)
    turns: int = 0

    def history(self) -> list[Turn]:
        """The active conversation: each branch replaces what it branched from (as SessionStore.history)."""
        active: list[Turn] = []
        for role, text, branch_at in self.rows:
            if branch_at is not None:
                del active[branch_at:]
            active.append((role, text))
        return active


@dataclass
class ModelMemory:
    text: str
    topic: str
    slot: str
    project: str
    status: str  # active, pending, superseded
    superseded_by: int | None = None

    def row(self) -> tuple[str, str, str, int | None]:
        return self.text, self.status, self.project, self.superseded_by


@dataclass
class Person:
    """What one (account, user) should read back."""

    exists: bool = False  # has a row in users
    sessions: dict[str, ModelSession] = field(default_factory=dict)
    memories: dict[int, ModelMemory] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, item, category)


def _owner(key: Key, project: str = "") -> Owner:
    return Owner(key[0], key[1], project)


def _others(key: Key) -> list[Key]:
    return [other for other in KEYS if other != key]


def _twins(key: Key) -> list[Key]:
    """The users of the same name in the other accounts."""
    return [other for other in _others(key) if other[1] == key[1]]


def _message(turn: Turn) -> Message:
    return Message.user(turn[1]) if turn[0] == "user" else Message.assistant(turn[1])


def _expected_resume(stored: list[Turn], sent: list[Turn]) -> tuple[list[Turn], list[Turn], int | None]:
    """(history, new, branch_at) that SessionStore.resume answers, by its rules, for texts without media."""
    shared = 0
    while shared < min(len(stored), len(sent)) and stored[shared] == sent[shared]:
        shared += 1
    if stored and shared == len(stored):
        return stored, sent[shared:], None
    if len(sent) >= 2 and 0 < shared < len(sent):
        return stored[:shared], sent[shared:], shared
    return stored, sent, None


def _personal_tables(db: Database) -> tuple[str, ...]:
    """Every table with an account and a user_id column, as the schema has it now."""
    with db.reading() as connection:
        inspector = sa.inspect(connection)
        return tuple(
            sorted(
                table
                for table in inspector.get_table_names()
                if {"account", "user_id"} <= {column["name"] for column in inspector.get_columns(table)}
            )
        )


class IsolationMachine(RuleBasedStateMachine):
    db: ClassVar[Database]
    tables: ClassVar[tuple[str, ...]]  # the personal tables of ``db``

    def __init__(self) -> None:
        super().__init__()
        with self.db.transaction() as connection:  # each example starts from empty tables
            for table in self.tables:
                connection.execute(sa.text(f"DELETE FROM {table}"))
        embedder = HashingEmbedder()
        self.sessions = SessionStore(self.db)
        self.memories = MemoryStore(self.db, embedder)
        # Another server process on the same database: it writes nothing, so only memory_version tells its
        # vector cache that something changed.
        self.other_server = MemoryStore(self.db, embedder)
        self.interests = InterestStore(self.db, embedder)
        self.users = UserStore(self.db)
        self.people = {key: Person() for key in KEYS}
        self.owner_of: dict[str, Key] = {}  # marker -> the owner whose text it is in
        self.markers = 0
        self.checks = 0  # invariant checks so far: recall alternates between projects and servers with it

    # --- helpers ----------------------------------------------------------------------------------------

    def _mark(self, key: Key) -> str:
        self.markers += 1
        marker = f"mk{self.markers}z"
        self.owner_of[marker] = key
        return marker

    def _assert_own(self, key: Key, where: str, text: str) -> None:
        for marker in MARKER.findall(text):
            assert self.owner_of.get(marker) == key, (
                f"{key} read {marker} of {self.owner_of.get(marker)} in {where}"
            )

    def _rows(self) -> dict[str, list[dict[str, Any]]]:
        with self.db.reading() as connection:
            return {
                table: [dict(row) for row in connection.execute(sa.text(f"SELECT * FROM {table}")).mappings()]
                for table in self.tables
            }

    @contextmanager
    def _changes_nothing(self) -> Iterator[None]:
        before = {table: Counter(tuple(row.values()) for row in rows) for table, rows in self._rows().items()}
        yield
        after = {table: Counter(tuple(row.values()) for row in rows) for table, rows in self._rows().items()}
        assert after == before, "a refused operation changed the database"

    def _memories(self, status: str | None = None) -> list[tuple[Key, int]]:
        return [
            (key, memory_id)
            for key, person in self.people.items()
            for memory_id, memory in sorted(person.memories.items())
            if status is None or memory.status == status
        ]

    def _sessions(self) -> list[tuple[Key, str]]:
        return [(key, sid) for key, person in self.people.items() for sid in sorted(person.sessions)]

    def _sessions_not_theirs(self) -> list[tuple[Key, str]]:
        """(owner, session id) where someone else has a session with that id and the owner has none."""
        return [
            (key, sid)
            for key in KEYS
            for sid in SESSION_IDS
            if sid not in self.people[key].sessions
            and any(sid in self.people[other].sessions for other in _others(key))
        ]

    def _remember(self, key: Key, project: str, candidate: Candidate, origin: str, change: Change) -> None:
        """Check ``change`` against the memory rules (merge, replace, pending) and apply it to the model."""
        person = self.people[key]
        same = similar = None
        if origin in TRUSTED:
            for memory_id, memory in sorted(person.memories.items()):
                if memory.status != "active" or memory.project != project:
                    continue
                if memory.topic != candidate.topic and not (candidate.slot and memory.slot == candidate.slot):
                    continue
                if memory.text.casefold() == candidate.text.casefold():
                    similar = memory_id
                elif (candidate.slot and memory.slot == candidate.slot) or candidate.topic in SINGLE_VALUED:
                    same = memory_id
        person.exists = True
        if similar is not None:
            assert (change.action, change.memory.id) == ("merged", similar)
            return
        expected = "pending" if origin not in TRUSTED else "replaced" if same is not None else "added"
        assert change.action == expected, f"{key}: {change.action}, expected {expected}"
        assert all(change.memory.id not in p.memories for p in self.people.values()), "an id reused"
        person.memories[change.memory.id] = ModelMemory(
            candidate.text,
            candidate.topic,
            candidate.slot,
            project,
            "active" if origin in TRUSTED else "pending",
        )
        if same is not None:
            assert change.replaced is not None and change.replaced.id == same
            person.memories[same].status, person.memories[same].superseded_by = "superseded", change.memory.id

    # --- sessions ---------------------------------------------------------------------------------------

    @rule(key=owners, project=projects, sid=session_ids, twins=st.booleans())
    def record_a_turn(self, key: Key, project: str, sid: str, twins: bool) -> None:
        """A turn in the session ``sid``; with ``twins``, the user of the same name in every account (when
        there is one) has a turn in a session of the same id too: only the account tells them apart."""
        keys = [key, *_twins(key)] if twins else [key]
        for who in keys:
            owner, marker, person = _owner(who, project), self._mark(who), self.people[who]
            self.sessions.open(owner, sid)
            person.exists = True
            session = person.sessions.setdefault(sid, ModelSession(project))
            turn = [("user", f"{marker} asks about tea"), ("assistant", f"{marker} suggests green tea")]
            assert self.sessions.record(owner, sid, [_message(t) for t in turn]) == session.turns
            session.rows += [(role, text, None) for role, text in turn]
            session.turns += 1

    @rule(
        key=owners,
        project=projects,
        sid=session_ids,
        how=st.sampled_from(("resend", "new turn only", "edit", "another owner's history")),
        pick=picks,
    )
    def resume(self, key: Key, project: str, sid: str, how: str, pick: int) -> None:
        """A client resumes a session: resending its history, editing it, or sending someone else's."""
        owner, marker, person = _owner(key, project), self._mark(key), self.people[key]
        stored = person.sessions[sid].history() if sid in person.sessions else []
        question = ("user", f"{marker} follows up")
        sent = [question]
        if how == "resend":
            sent = [*stored, question]
        elif how == "edit":
            edits = [i for i, (role, _) in enumerate(stored) if role == "user" and i > 0]
            sent = [*stored[: edits[pick % len(edits)]], question] if edits else [*stored, question]
        elif how == "another owner's history":
            theirs = [
                self.people[k].sessions[sid].history() for k in _others(key) if sid in self.people[k].sessions
            ]
            sent = [*theirs[pick % len(theirs)], question] if theirs else sent
        history, new, branch_at = _expected_resume(stored, sent)
        resumed = self.sessions.resume(owner, sid, [Message.system("Be brief."), *map(_message, sent)])
        person.exists = True
        session = person.sessions.setdefault(sid, ModelSession(project))
        assert [(m.role, m.text) for m in resumed.history] == history, f"{key} resumed someone else's history"
        assert ([(m.role, m.text) for m in resumed.new], resumed.branch_at) == (new, branch_at)
        if how == "another owner's history":
            return  # not stored: every stored text keeps the marker of its owner
        reply = ("assistant", f"{marker} answers")
        messages = [*resumed.new, _message(reply)]
        assert self.sessions.record(owner, sid, messages, branch_at=resumed.branch_at) == session.turns
        session.rows += [(m.role, m.text, branch_at if i == 0 else None) for i, m in enumerate(messages)]
        session.turns += 1

    @precondition(lambda self: bool(self._sessions()))
    @rule(shared=st.booleans(), pick=picks)
    def delete_a_session(self, shared: bool, pick: int) -> None:
        """An owner deletes a session; with ``shared``, preferably one whose id the user of the same name in
        the other account has too, else one whose id anyone else has."""
        choices = self._sessions()
        if shared:
            twins = [(k, sid) for k, sid in choices if any(sid in self.people[t].sessions for t in _twins(k))]
            others = [
                (k, sid) for k, sid in choices if any(sid in self.people[o].sessions for o in _others(k))
            ]
            choices = twins or others or choices
        key, sid = choices[pick % len(choices)]
        assert self.sessions.delete(_owner(key), sid) == len(self.people[key].sessions.pop(sid).rows)

    @precondition(lambda self: bool(self._sessions_not_theirs()))
    @rule(how=st.sampled_from(("record", "delete")), pick=picks)
    def touch_a_session_that_is_not_theirs(self, how: str, pick: int) -> None:
        """Another owner has a session with this id, the owner has none: it is as unknown as any other."""
        key, sid = (choices := self._sessions_not_theirs())[pick % len(choices)]
        owner = _owner(key)
        with pytest.raises(UnknownSessionError):
            self.sessions.info(owner, sid)
        with self._changes_nothing(), pytest.raises(UnknownSessionError):
            if how == "record":
                self.sessions.record(owner, sid, [Message.user(f"{self._mark(key)} sneaks in")])
            else:
                self.sessions.delete(owner, sid)

    # --- memories ---------------------------------------------------------------------------------------

    @rule(key=owners, project=projects, origin=st.sampled_from(ORIGINS), fact=st.sampled_from(FACTS))
    def remember(self, key: Key, project: str, origin: Origin, fact: tuple[str, str]) -> None:
        self._store_memory(key, project, origin, Candidate(f"Fact {self._mark(key)}: likes tea.", *fact))

    @precondition(lambda self: bool(self._memories()))
    @rule(key=owners, origin=st.sampled_from(ORIGINS), same_account=st.booleans(), pick=picks)
    def remember_another_owners_fact(self, key: Key, origin: Origin, same_account: bool, pick: int) -> None:
        """Another owner's fact word for word, in its topic, slot and project (active ones first): it is
        added for this owner, never merged into theirs nor replacing it."""
        others = [k for k in _others(key) if (k[0] == key[0]) == same_account]
        theirs = [(k, i) for k, i in self._memories("active") or self._memories() if k in others]
        if not theirs:
            return
        other, memory_id = theirs[pick % len(theirs)]
        copied = self.people[other].memories[memory_id]
        candidate = Candidate(copied.text, copied.topic, copied.slot)
        self._store_memory(key, copied.project, origin, candidate)

    def _store_memory(self, key: Key, project: str, origin: Origin, candidate: Candidate) -> None:
        owner = _owner(key, project)
        if origin == "user":
            change = self.memories.add(owner, candidate.text, candidate.topic, candidate.slot)
        else:
            change = self.memories.remember(owner, [candidate], origin, session="s1", turn=0)[0]
        self._remember(key, project, candidate, origin, change)

    @precondition(lambda self: bool(self._memories("pending")))
    @rule(project=projects, pick=picks)
    def confirm(self, project: str, pick: int) -> None:
        key, memory_id = (choices := self._memories("pending"))[pick % len(choices)]
        pending = self.people[key].memories.pop(memory_id)
        change = self.memories.confirm(_owner(key, project), memory_id)
        # Confirmed in the project it was pending in, whichever project the confirmation came from.
        candidate = Candidate(pending.text, pending.topic, pending.slot)
        self._remember(key, pending.project, candidate, "user", change)

    @precondition(lambda self: bool(self._memories()))
    @rule(project=projects, pick=picks)
    def forget_a_memory(self, project: str, pick: int) -> None:
        key, memory_id = (choices := self._memories())[pick % len(choices)]
        assert self.memories.forget(_owner(key, project), memory_id).id == memory_id
        memories, chain = self.people[key].memories, [memory_id]
        while older := [i for i, m in memories.items() if m.superseded_by == chain[-1]]:
            chain += older  # the facts it replaced go with it
        for gone in chain:
            del memories[gone]

    @precondition(lambda self: bool(self._memories()))
    @rule(how=st.sampled_from(("get", "forget", "confirm")), project=projects, pick=picks, other=picks)
    def touch_another_owners_memory(self, how: str, project: str, pick: int, other: int) -> None:
        key, memory_id = (choices := self._memories())[pick % len(choices)]
        intruders = _others(key)  # the user of the same name in the other account among them
        intruder = _owner(intruders[other % len(intruders)], project)
        with self._changes_nothing(), pytest.raises(UnknownMemoryError):
            getattr(self.memories, how)(intruder, memory_id)

    # --- interest signals and users ---------------------------------------------------------------------

    @rule(
        key=owners,
        kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3),
        naming_another=st.booleans(),
    )
    def record_events(self, key: Key, kinds: list[str], naming_another: bool) -> None:
        owner, person = _owner(key), self.people[key]
        markers = [self._mark(key) for _ in kinds]
        events = [(kind, marker, f"shelf {marker}") for kind, marker in zip(kinds, markers, strict=True)]
        sent: list[dict[str, Any]] = [
            {"kind": k, "item": i, "category": c, "text": f"{i} tea"} for k, i, c in events
        ]
        if naming_another:  # one event for another user of the account: nothing is stored
            other = next(user for user in ACCOUNTS[key[0]] if user != key[1])
            sent.append({"kind": "view", "item": "intruder", "user": other})
            with self._changes_nothing(), pytest.raises(InvalidEventsError):
                self.interests.record(owner, sent)
            return
        assert self.interests.record(owner, sent) == len(sent)
        person.exists = True
        person.events += events

    @rule(
        account=st.sampled_from(tuple(ACCOUNTS)),
        lines=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(KINDS)), min_size=1, max_size=4),
        with_default=st.booleans(),
    )
    def import_jsonl(self, account: str, lines: list[tuple[int, str]], with_default: bool) -> None:
        """An import for several users of one account; lines of the default user may leave ``user`` out."""
        default = ACCOUNTS[account][lines[0][0]] if with_default else None
        text: list[str] = []
        for user_index, kind in lines:
            user = ACCOUNTS[account][user_index]
            marker = self._mark((account, user))
            event = {"kind": kind, "item": marker, "category": f"shelf {marker}"}
            text.append(json.dumps(event if user == default else event | {"user": user}) + "\n")
            self.people[account, user].events.append((kind, marker, f"shelf {marker}"))
            self.people[account, user].exists = True
        summary = self.interests.import_jsonl(account, text, default_user=default)
        assert summary.users == dict(Counter(ACCOUNTS[account][i] for i, _ in lines))

    @rule(key=owners)
    def forget_a_user(self, key: Key) -> None:
        person = self.people[key]
        expected = {
            "messages": sum(len(s.rows) for s in person.sessions.values()),
            "sessions": len(person.sessions),
            "memories": len(person.memories),
            "interest_events": len(person.events),
            "users": int(person.exists),
        }
        deleted = self.users.forget(_owner(key, "shop"))  # a project narrows nothing: all of them goes
        assert {table: deleted.get(table) for table in expected} == expected
        self.people[key] = Person()

    # --- what everyone reads back -----------------------------------------------------------------------

    @invariant()
    def each_owner_reads_exactly_their_own(self) -> None:
        self.checks += 1
        for key, person in self.people.items():
            self._check_sessions(key, person)
            server = self.memories if self.checks // len(PROJECTS) % 2 else self.other_server
            self._check_memories(key, person, PROJECTS[self.checks % len(PROJECTS)], server)
            self._check_interests(key, person)

    def _check_sessions(self, key: Key, person: Person) -> None:
        owner = _owner(key)
        listed = {s.id: s for s in self.sessions.list_sessions(owner, limit=1_000)}
        assert listed.keys() == person.sessions.keys(), f"{key} lists {sorted(listed)}"
        for sid in SESSION_IDS:
            session = person.sessions.get(sid)
            if session is None:
                assert self.sessions.transcript(owner, sid) == [], f"{key} reads a transcript of {sid}"
                continue
            info = listed[sid]
            self._assert_own(key, f"the title of {sid}", info.title)
            assert (info.project, info.messages, info.turns) == (
                session.project,
                len(session.rows),
                session.turns,
            )
            transcript = self.sessions.transcript(owner, sid)
            for stored in transcript:
                self._assert_own(key, f"the transcript of {sid}", stored.message.text)
            assert [
                (s.message.role, s.message.text, s.meta.get("branch_at")) for s in transcript
            ] == session.rows
            history = [(s.message.role, s.message.text) for s in self.sessions.history(owner, sid)]
            assert history == session.history()

    def _check_memories(self, key: Key, person: Person, project: str, server: MemoryStore) -> None:
        """Everything listed and exported is theirs; recall in ``project`` (through ``server``) with a query
        that is word for word another owner's fact finds exactly the owner's own active memories of that
        project or of none."""
        owner = _owner(key, project)
        exported = self.memories.export(owner)
        assert (exported["account"], exported["user"]) == key
        assert {
            m["id"]: (m["text"], m["status"], m["project"], m["superseded_by"]) for m in exported["memories"]
        } == {i: m.row() for i, m in person.memories.items()}, f"{key} exports memories not theirs"
        listed = {m.id for m in self.memories.list_memories(owner)}
        assert listed == {i for i, m in person.memories.items() if m.status in ("active", "pending")}
        theirs = [self.people[k].memories[i].text for k, i in self._memories() if k != key]
        query = theirs[self.checks % len(theirs)] if theirs else "tea"
        visible = {
            i for i, m in person.memories.items() if m.status == "active" and m.project in ("", project)
        }
        # Every score is >= 0 (the embedder's vectors have no negative component): the top len(visible) of the
        # owner's own index are all of their memories, and a vector of anyone else's would push one out.
        hits = server.recall(owner, query, k=max(1, len(visible)))
        assert {m.id for m, _ in hits} == visible, f"{key} recalled memories that are not theirs, or too few"
        if any(person.memories[i].text == query for i in visible):
            assert hits[0][0].text == query

    def _check_interests(self, key: Key, person: Person) -> None:
        owner = _owner(key)
        if not person.exists:
            with pytest.raises(UnknownUserError):
                self.interests.events(owner)
            with pytest.raises(UnknownUserError):
                self.interests.profile(owner)
            return
        events = self.interests.events(owner, limit=10_000)
        for event in events:
            self._assert_own(key, "events", f"{event.item} {event.category} {event.text}")
        assert Counter((e.kind, e.item, e.category) for e in events) == Counter(person.events)
        profile = self.interests.profile(owner)
        assert profile.events == len(person.events)
        items = {i.name for i in (*profile.items, *profile.disliked_items)}
        categories = {c.name for c in (*profile.categories, *profile.disliked_categories)}
        assert items == {item for _, item, _ in person.events}
        assert categories == {category for _, _, category in person.events}

    @invariant()
    def every_row_belongs_to_the_owner_it_was_written_for(self) -> None:
        rows = self._rows()
        existing = {key for key, person in self.people.items() if person.exists}
        for table, table_rows in rows.items():
            for row in table_rows:
                owner = (row["account"], row["user_id"])
                assert owner in existing, f"{table} holds a row of {owner}, who is forgotten or never was"
        assert {(r["account"], r["user_id"]) for r in rows["users"]} == existing
        assert {(r["account"], r["user_id"], r["id"]): r["project"] for r in rows["sessions"]} == {
            (*key, sid): s.project for key, p in self.people.items() for sid, s in p.sessions.items()
        }
        messages: dict[tuple[str, str, str], list[tuple[int, str, str]]] = {}
        for r in rows["messages"]:
            self._assert_own((r["account"], r["user_id"]), "the messages table", r["content"])
            messages.setdefault((r["account"], r["user_id"], r["session_id"]), []).append(
                (int(r["seq"]), r["role"], r["content"])
            )
        assert {where: [(role, text) for _, role, text in sorted(m)] for where, m in messages.items()} == {
            (*key, sid): [(role, text) for role, text, _ in s.rows]
            for key, p in self.people.items()
            for sid, s in p.sessions.items()
            if s.rows
        }
        assert {
            (r["account"], r["user_id"], int(r["id"])): (
                r["text"],
                r["status"],
                r["project"],
                r["superseded_by"],
            )
            for r in rows["memories"]
        } == {(*key, i): m.row() for key, p in self.people.items() for i, m in p.memories.items()}
        for r in rows["interest_events"]:
            self._assert_own((r["account"], r["user_id"]), "the interest_events table", r["item"])
        assert Counter(
            (r["account"], r["user_id"], r["kind"], r["item"], r["category"]) for r in rows["interest_events"]
        ) == Counter((*key, *event) for key, p in self.people.items() for event in p.events)


def test_no_owner_ever_reads_another_owners_data(database_url: str) -> None:
    db = open_database(database_url)
    try:
        tables = _personal_tables(db)
        assert set(tables) == {*PERSONAL_TABLES, *KEPT_TABLES}, "forget must handle every user_id table"
        machine = type(f"IsolationOn{db.dialect.title()}", (IsolationMachine,), {"db": db, "tables": tables})
        run_state_machine_as_test(machine, settings=SETTINGS)
    finally:
        db.close()
