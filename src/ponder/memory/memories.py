"""Persistent user memory: durable facts about a person, kept with their source, recalled by similarity.

A memory is one sentence about the user ("The user is vegetarian.") with a topic (diet, size, budget, ...),
a *slot* (what it is about: "diet", "shoe size", "sister"), an origin and a status:

- **Duplicates merge.** A new fact in the same slot, or one whose embedding is nearly the same as an active
  memory's (cosine >= ``DUPLICATE_AT``), refreshes the existing memory instead of adding another.
- **Contradictions replace.** A different fact in the same slot (or, for diet and budget, the same topic)
  supersedes the older one: the old row stays,
  marked ``superseded`` and pointing at its replacement, and is never recalled again.
- **Untrusted content waits.** A memory whose origin is content the user did not write (a tool result, an
  MCP server, a web page, the text in an image) is stored ``pending`` and is neither recalled nor used
  until the user confirms it (``ponder memory confirm``, ``POST /v1/memories/{id}/confirm``).

Recall embeds the query (E5, query side), and searches the user's active memories, those without a project
and those of the turn's project (``VectorIndex``). A user's active memories and vectors are loaded on first
use and kept per process. Every write bumps the user's ``memory_version`` in its transaction, and every
recall reads it (one primary-key read): a write by this process is applied to the kept memories as it
commits, and one by another process (several servers on one PostgreSQL) makes the next recall load them
again.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sqlalchemy.engine import Connection, RowMapping

from ponder.errors import NotFoundError, UserError
from ponder.memory.embeddings import Embedder
from ponder.memory.owner import Owner
from ponder.memory.users import UserStore
from ponder.memory.vectors import VectorIndex
from ponder.store.database import Database, sql

__all__ = [
    "DUPLICATE_AT",
    "TOPICS",
    "Candidate",
    "Change",
    "Memory",
    "MemoryStore",
    "Origin",
    "UnknownMemoryError",
]

TOPICS = (
    "diet",
    "size",
    "budget",
    "family",
    "place",
    "dislike",
    "like",
    "health",
    "work",
    "schedule",
    "style",
    "other",
)
Origin = Literal["conversation", "user", "import", "tool", "image"]
TRUSTED: frozenset[str] = frozenset({"conversation", "user", "import"})  # what the user said or typed
# Topics where a person has one value at a time: a newer fact replaces the older one whatever its slot.
SINGLE_VALUED = frozenset({"diet", "budget"})
DUPLICATE_AT = 0.95  # cosine at which two facts say the same thing (E5 puts paraphrases near 0.93-0.97)
MAX_TEXT = 500


class UnknownMemoryError(NotFoundError):
    """No such memory for this user."""


@dataclass(frozen=True)
class Candidate:
    """A fact to remember, as extraction (or a person) states it."""

    text: str
    topic: str = "other"
    slot: str = ""


@dataclass(frozen=True)
class Memory:
    id: int
    topic: str
    slot: str
    text: str
    origin: str
    status: str  # active, pending, superseded
    project: str
    superseded_by: int | None
    source_session: str | None
    source_turn: int | None
    created_at: float
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "topic": self.topic,
            "slot": self.slot,
            "origin": self.origin,
            "status": self.status,
            "project": self.project,
            "superseded_by": self.superseded_by,
            "source": {"session": self.source_session, "turn": self.source_turn},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Change:
    """What remembering one candidate did."""

    action: Literal["added", "merged", "replaced", "pending"]
    memory: Memory
    replaced: Memory | None = None  # the memory a contradiction superseded


class _Scope:
    """One user's active memories and their vectors, split by project ("" : every project)."""

    def __init__(
        self,
        signature: tuple[float, int] | None,
        indexes: dict[str, VectorIndex],
        memories: dict[int, Memory],
    ) -> None:
        self.signature = signature
        self.indexes = indexes
        self.memories = memories

    def search(
        self, project: str, vector: np.ndarray, k: int, min_score: float
    ) -> list[tuple[Memory, float]]:
        """The ``k`` best of the project's and the project-less memories."""
        indexes = [self.indexes[p] for p in {"", project} if p in self.indexes]
        hits = sorted((hit for index in indexes for hit in index.search(vector, k)), key=lambda h: -h[1])
        found = [(self.memories.get(i), score) for i, score in hits[:k] if score >= min_score]
        return [(memory, score) for memory, score in found if memory is not None]  # None: just forgotten

    def apply(self, delta: _Delta) -> None:
        """A committed write of this process, applied in place (applying it twice changes nothing).

        Additions come first: a fact added and replaced by the next one in the same write is removed."""
        for memory, vector in delta.active:
            self.memories[memory.id] = memory
            if vector is not None:
                index = self.indexes.get(memory.project)
                if index is None:
                    index = self.indexes[memory.project] = VectorIndex(vector.shape[-1])
                index.add([memory.id], vector.reshape(1, -1))
        for memory_id in delta.removed:
            gone = self.memories.pop(memory_id, None)
            if gone is not None and gone.project in self.indexes:
                self.indexes[gone.project].remove([memory_id])


@dataclass
class _Delta:
    """What one write transaction did to a user's active memories."""

    active: list[tuple[Memory, np.ndarray | None]]  # new or changed; the vector when it is new
    removed: list[int]


class MemoryStore:
    def __init__(self, db: Database, embedder: Embedder) -> None:
        self.db = db
        self.embedder = embedder
        self.users = UserStore(db)
        self._scopes: dict[tuple[str, str], _Scope] = {}
        self._lock = threading.Lock()

    # --- writing ----------------------------------------------------------------------------------------

    def remember(
        self,
        owner: Owner,
        candidates: Sequence[Candidate],
        origin: Origin,
        *,
        session: str | None = None,
        turn: int | None = None,
    ) -> list[Change]:
        """Store each candidate under the rules above (merge, replace, or wait when untrusted)."""
        cleaned = [_clean(c) for c in candidates]
        if not cleaned:
            return []
        vectors = self.embedder.passage([c.text for c in cleaned])
        self.users.ensure(owner)
        changes: list[Change] = []
        delta = _Delta([], [])
        with self.db.transaction(lock=f"memory:{owner.account}:{owner.user}") as db:
            for candidate, vector in zip(cleaned, vectors, strict=True):
                change = self._remember_one(db, owner, candidate, vector, origin, session, turn)
                changes.append(change)
                if change.action in ("added", "replaced"):
                    delta.active.append((change.memory, np.asarray(vector, np.float32)))
                elif change.action == "merged":
                    delta.active.append((change.memory, None))
                if change.replaced is not None:
                    delta.removed.append(change.replaced.id)
            signature = _bump(db, owner)
        self._advance(owner, signature, delta)
        return changes

    def add(self, owner: Owner, text: str, topic: str = "other", slot: str = "") -> Change:
        """A memory the user states themselves (``ponder memory add``): trusted."""
        return self.remember(owner, [Candidate(text, topic, slot)], "user")[0]

    def _remember_one(
        self,
        db: Connection,
        owner: Owner,
        candidate: Candidate,
        vector: np.ndarray,
        origin: Origin,
        session: str | None,
        turn: int | None,
    ) -> Change:
        now = time.time()
        values = owner.params() | {
            "project": owner.project,
            "topic": candidate.topic,
            "slot": candidate.slot,
            "text": candidate.text,
            "vector": np.asarray(vector, np.float32).tobytes(),
            "origin": origin,
            "session": session,
            "turn": turn,
            "now": now,
        }
        if origin not in TRUSTED:
            return Change("pending", _insert(db, values, "pending"))
        same, similar = _neighbours(db, owner, candidate, vector)
        if similar is not None:  # the same fact again: refresh it
            db.execute(
                sql(
                    "UPDATE memories SET updated_at = :now, "
                    "source_session = COALESCE(:session, source_session), "
                    "source_turn = COALESCE(:turn, source_turn) "
                    "WHERE account = :account AND user_id = :user AND id = :id"
                ),
                owner.params(id=similar.id, now=now, session=session, turn=turn),
            )
            return Change("merged", _get(db, owner, similar.id))
        memory = _insert(db, values, "active")
        if same is None:
            return Change("added", memory)
        db.execute(
            sql(
                "UPDATE memories SET status = 'superseded', superseded_by = :new, updated_at = :now "
                "WHERE account = :account AND user_id = :user AND id = :old"
            ),
            owner.params(new=memory.id, old=same.id, now=now),
        )
        return Change("replaced", memory, _get(db, owner, same.id))

    def confirm(self, owner: Owner, memory_id: int) -> Change:
        """The user confirms a pending memory: it is remembered as if they had said it."""
        with self.db.reading() as db:
            memory = _get(db, owner, memory_id)
        if memory.status != "pending":
            raise UserError(f"Memory {memory_id} is {memory.status}, not waiting for confirmation.")
        self.forget(owner, memory_id)
        owner = Owner(owner.account, owner.user, memory.project)  # it stays in its own project
        candidate = Candidate(memory.text, memory.topic, memory.slot)
        return self.remember(
            owner, [candidate], "user", session=memory.source_session, turn=memory.source_turn
        )[0]

    def forget(self, owner: Owner, memory_id: int) -> Memory:
        """Delete one memory (and the history of facts it replaced); it is gone, not hidden."""
        with self.db.transaction(lock=f"memory:{owner.account}:{owner.user}") as db:
            memory = _get(db, owner, memory_id)
            chain = [memory_id]
            while True:  # the facts this one superseded go with it: they would resurface otherwise nowhere
                older = db.execute(
                    sql(
                        "SELECT id FROM memories WHERE account = :account AND user_id = :user "
                        "AND superseded_by = :id"
                    ),
                    owner.params(id=chain[-1]),
                ).scalar()
                if older is None:
                    break
                chain.append(int(older))
            for item in chain:
                db.execute(
                    sql("DELETE FROM memories WHERE account = :account AND user_id = :user AND id = :id"),
                    owner.params(id=item),
                )
            signature = _bump(db, owner)
        self._advance(owner, signature, _Delta([], chain))
        self.db.purge()
        return memory

    def forget_all(self, owner: Owner) -> int:
        with self.db.transaction(lock=f"memory:{owner.account}:{owner.user}") as db:
            gone = db.execute(
                sql("DELETE FROM memories WHERE account = :account AND user_id = :user"), owner.params()
            ).rowcount
            _bump(db, owner)
        self._forget_scope(owner)
        self.db.purge()
        return int(gone)

    # --- reading ----------------------------------------------------------------------------------------

    def list_memories(self, owner: Owner, *, statuses: Iterable[str] = ("active", "pending")) -> list[Memory]:
        wanted = sorted(set(statuses))
        marks = ", ".join(f":s{i}" for i in range(len(wanted)))
        with self.db.reading() as db:
            rows = db.execute(
                sql(
                    "SELECT * FROM memories WHERE account = :account AND user_id = :user "
                    f"AND status IN ({marks}) ORDER BY id"
                ),
                owner.params() | {f"s{i}": s for i, s in enumerate(wanted)},
            ).mappings()
            return [_memory(row) for row in rows]

    def get(self, owner: Owner, memory_id: int) -> Memory:
        with self.db.reading() as db:
            return _get(db, owner, memory_id)

    def export(self, owner: Owner) -> dict[str, Any]:
        """Everything remembered about the user, superseded facts included, as JSON-ready data."""
        memories = self.list_memories(owner, statuses=("active", "pending", "superseded"))
        return {
            "account": owner.account,
            "user": owner.user,
            "exported_at": time.time(),
            "embedding_model": self.embedder.name,
            "memories": [m.to_dict() for m in memories],
        }

    def recall(
        self, owner: Owner, query: str, k: int = 3, min_score: float = 0.0
    ) -> list[tuple[Memory, float]]:
        """The ``k`` active memories most similar to ``query`` (this project's and project-less ones)."""
        if k <= 0 or not query.strip():
            return []
        scope = self._scope(owner)
        if not scope.memories:
            return []
        vector = self.embedder.query([about_the_user(query)])[0]
        return scope.search(owner.project, vector, k, min_score)

    def recall_vector(
        self, owner: Owner, vector: np.ndarray, k: int, min_score: float = 0.0
    ) -> list[tuple[Memory, float]]:
        """Recall with a query vector already embedded."""
        return self._scope(owner).search(owner.project, vector, k, min_score)

    # --- the per-process vector cache -------------------------------------------------------------------

    def _scope(self, owner: Owner) -> _Scope:
        with self.db.reading() as db:
            row = db.execute(
                sql(
                    "SELECT created_at, memory_version FROM users "
                    "WHERE account = :account AND user_id = :user"
                ),
                owner.params(),
            ).first()
        # A user forgotten and created again restarts at version 0: created_at tells the two apart.
        signature = None if row is None else (float(row[0]), int(row[1]))
        with self._lock:
            scope = self._scopes.get(owner.key)
            if scope is not None and scope.signature == signature:
                return scope
        scope = _Scope(signature, *self._load(owner))
        with self._lock:
            self._scopes[owner.key] = scope
        return scope

    def _load(self, owner: Owner) -> tuple[dict[str, VectorIndex], dict[int, Memory]]:
        by_project: dict[str, tuple[list[int], list[bytes]]] = {}
        memories: dict[int, Memory] = {}
        with self.db.reading() as db:
            rows = db.execute(
                sql(
                    "SELECT * FROM memories "
                    "WHERE account = :account AND user_id = :user AND status = 'active'"
                ),
                owner.params(),
            ).mappings()
            for row in rows:
                memory = memories[int(row["id"])] = _memory(row)
                ids, blobs = by_project.setdefault(memory.project, ([], []))
                ids.append(memory.id)
                blobs.append(bytes(row["vector"]))
        indexes: dict[str, VectorIndex] = {}
        for project, (ids, blobs) in by_project.items():
            matrix = np.frombuffer(b"".join(blobs), np.float32).reshape(len(ids), self.embedder.dim)
            index = indexes[project] = VectorIndex(self.embedder.dim, capacity=len(ids))
            index.add(ids, matrix)
        return indexes, memories

    def _forget_scope(self, owner: Owner) -> None:
        with self._lock:
            self._scopes.pop(owner.key, None)

    def _advance(self, owner: Owner, signature: tuple[float, int] | None, delta: _Delta) -> None:
        """After this process's write committed: apply it to the kept memories, or drop them when
        another write came between (the version skipped one) and they cannot be brought up to date."""
        with self._lock:
            scope = self._scopes.get(owner.key)
            if scope is None:
                return
            if signature is None or scope.signature != (signature[0], signature[1] - 1):
                del self._scopes[owner.key]
                return
            scope.apply(delta)
            scope.signature = signature


# First person to "the user": memories are written about "the user", and a question asked as "What pet do
# I have?" finds them better as "What pet does the user have?" (bench/memory_quality.py measures it).
_PERSPECTIVE = [
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"\bam I\b", "is the user"),
        (r"\b(I am|I'm|Im)\b", "the user is"),
        (r"\b(do|did|can|could|should|would|will) I\b", r"\1 the user"),
        (r"\bI've\b", "the user has"),
        (r"\bI'd\b", "the user would"),
        (r"\bI'll\b", "the user will"),
        (r"\bI\b", "the user"),
        (r"\b(my|mine)\b", "the user's"),
        (r"\b(me|myself)\b", "the user"),
    )
]


def about_the_user(text: str) -> str:
    """``text`` with the first person turned into "the user", the way memories are written."""
    for pattern, replacement in _PERSPECTIVE:
        text = pattern.sub(replacement, text)
    return text


def _bump(db: Connection, owner: Owner) -> tuple[float, int] | None:
    """Mark the user's memories changed (see ``MemoryStore._scope``), in the writing transaction; the
    user's new signature (created_at, memory_version), None when there is no such user."""
    row = db.execute(
        sql(
            "UPDATE users SET memory_version = memory_version + 1 "
            "WHERE account = :account AND user_id = :user RETURNING created_at, memory_version"
        ),
        owner.params(),
    ).first()
    return None if row is None else (float(row[0]), int(row[1]))


def _clean(candidate: Candidate) -> Candidate:
    text = " ".join(candidate.text.split())
    if not text:
        raise UserError("A memory needs some text.")
    if len(text) > MAX_TEXT:
        raise UserError(f"A memory is one fact of at most {MAX_TEXT} characters (this one has {len(text)}).")
    topic = candidate.topic.strip().lower() or "other"
    if topic not in TOPICS:
        topic = "other"
    slot = " ".join(re.sub(r"[^\w]+", " ", candidate.slot.lower()).split())
    return Candidate(text, topic, slot)


def _neighbours(
    db: Connection, owner: Owner, candidate: Candidate, vector: np.ndarray
) -> tuple[Memory | None, Memory | None]:
    """(the active memory in the same slot, an active memory that says the same thing)."""
    rows = db.execute(
        sql(
            "SELECT * FROM memories WHERE account = :account AND user_id = :user AND status = 'active' "
            "AND project = :project AND (topic = :topic OR (slot = :slot AND slot <> ''))"
        ),
        owner.params(project=owner.project, topic=candidate.topic, slot=candidate.slot),
    ).mappings()
    same = similar = None
    for row in rows:
        stored = np.frombuffer(row["vector"], np.float32)
        if row["text"].casefold() == candidate.text.casefold() or float(stored @ vector) >= DUPLICATE_AT:
            similar = _memory(row)
        elif (candidate.slot and row["slot"] == candidate.slot) or candidate.topic in SINGLE_VALUED:
            same = _memory(row)
    return same, similar


def _insert(db: Connection, values: dict[str, Any], status: str) -> Memory:
    memory_id = db.execute(
        sql(
            "INSERT INTO memories (account, user_id, project, topic, slot, text, vector, origin, status, "
            "source_session, source_turn, created_at, updated_at) VALUES (:account, :user, :project, :topic, "
            ":slot, :text, :vector, :origin, :status, :session, :turn, :now, :now) RETURNING id"
        ),
        values | {"status": status},
    ).scalar_one()
    return Memory(
        id=int(memory_id),
        topic=values["topic"],
        slot=values["slot"],
        text=values["text"],
        origin=values["origin"],
        status=status,
        project=values["project"],
        superseded_by=None,
        source_session=values["session"],
        source_turn=values["turn"],
        created_at=values["now"],
        updated_at=values["now"],
    )


def _get(db: Connection, owner: Owner, memory_id: int) -> Memory:
    if not 0 < memory_id < 2**63:  # no such id can exist (and the drivers would refuse the number)
        raise UnknownMemoryError(f"No memory {memory_id} for user '{owner.user}'.")
    row = (
        db.execute(
            sql("SELECT * FROM memories WHERE account = :account AND user_id = :user AND id = :id"),
            owner.params(id=memory_id),
        )
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownMemoryError(f"No memory {memory_id} for user '{owner.user}'.")
    return _memory(row)


def _memory(row: RowMapping) -> Memory:
    return Memory(
        id=int(row["id"]),
        topic=row["topic"],
        slot=row["slot"],
        text=row["text"],
        origin=row["origin"],
        status=row["status"],
        project=row["project"],
        superseded_by=None if row["superseded_by"] is None else int(row["superseded_by"]),
        source_session=row["source_session"],
        source_turn=None if row["source_turn"] is None else int(row["source_turn"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
