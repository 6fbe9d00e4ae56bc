"""Interest signals: what a person viewed, liked, saved, followed, shared, bought or dismissed, and the
profile of their tastes that modes (and the shopping mode) read from it. Events are the truth; the profile
is computed from them on every read, never stored (interest_profile.py says why).

The parts, each in its module:
- interest_events.py: ``InterestEvent`` and the other event shapes, validation with every problem
  reported, reading an import within its limits, and writing rows in batches
- interest_profile.py: ``InterestProfile`` and its arithmetic: decay, netting, likes and dislikes, drivers
- here, ``InterestStore``: events in (``record``, ``import_jsonl``), events and profiles out, and the
  profile's embedding

- **Embedding.** The weighted mean (liked items only) of the passage embeddings of the items' ``text``
  (``"category: item"`` when there is none), L2-normalised, so a dot product with a query embedding is a
  cosine. Only the ``EMBEDDED_ITEMS`` heaviest items are embedded: the long tail weighs little and would
  make a heavy user's first profile take seconds. Each distinct text is embedded once per store instance
  (a bounded cache of ``EMBEDDING_CACHE`` texts), so a profile read again costs no model calls.
- **Reading.** A profile reads the user's events once, in time order, with a streaming cursor.
- **Ownership.** Every statement names ``account`` and ``user_id``. A user comes into being with their
  first event; ``UserStore.forget`` deletes their events with everything else.

Not here: recommendations (commerce/ reads the profile), deleting single events, and any cross-user
statistics (popularity, collaborative filtering), which would have to read across people.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np

from ponder.errors import UserError
from ponder.memory.embeddings import Embedder
from ponder.memory.interest_events import (
    BATCH,
    KINDS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_EVENTS,
    EventProblem,
    EventProblems,
    ImportSummary,
    ImportTooLargeError,
    InterestEvent,
    InvalidEvent,
    InvalidEventsError,
    Kind,
    RecordedEvent,
    ensure_users,
    event_row,
    insert_events,
    line_source,
    parse_line,
    validate_event,
    write_events,
)
from ponder.memory.interest_profile import (
    HALF_LIFE_DAYS,
    KIND_WEIGHTS,
    Contribution,
    Interest,
    InterestProfile,
    passage_text,
    split_liked,
    sum_events,
)
from ponder.memory.owner import Owner, check_name
from ponder.memory.users import UserStore
from ponder.store.database import Database, sql

__all__ = [
    "EMBEDDED_ITEMS",
    "HALF_LIFE_DAYS",
    "KINDS",
    "KIND_WEIGHTS",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_EVENTS",
    "Contribution",
    "EventProblem",
    "ImportSummary",
    "ImportTooLargeError",
    "Interest",
    "InterestEvent",
    "InterestProfile",
    "InterestStore",
    "InvalidEventsError",
    "Kind",
    "RecordedEvent",
    "write_events",
]

EMBEDDED_ITEMS: Final = 100  # the heaviest liked items that make up the profile embedding
EMBEDDING_CACHE: Final = 20_000  # texts whose embeddings a store keeps (384 float32: 1.5 KiB each)


class InterestStore:
    """Events in (``record``, ``import_jsonl``); events and profiles out, each of one user of one account."""

    def __init__(self, db: Database, embedder: Embedder) -> None:
        self.db = db
        self.embedder = embedder
        self.users = UserStore(db)
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # passage text -> embedding (LRU)
        self._vectors_lock = threading.Lock()

    # --- writing ---

    def record(self, owner: Owner, events: Iterable[InterestEvent | Mapping[str, Any]]) -> int:
        """Validate every event, then store them all in one transaction; how many were stored.

        Mappings are validated as ``InterestEvent``; an event naming another user than ``owner`` is an
        error. The user is created with their first event.
        """
        valid: list[InterestEvent] = []
        problems = EventProblems()
        for index, given in enumerate(events):
            try:
                event = given if isinstance(given, InterestEvent) else validate_event(given)
                if event.user is not None and event.user != owner.user:
                    raise InvalidEvent(f"names user '{event.user}', but these events are for '{owner.user}'")
            except InvalidEvent as err:
                problems.add(f"events[{index}]", err)
                continue
            valid.append(event)
        problems.raise_any(len(valid), "events")
        if not valid:
            return 0
        created = time.time()
        with self.db.transaction(lock=f"user:{owner.account}:{owner.user}") as db:
            ensure_users(db, owner.account, [owner.user])
            rows = [event_row(owner.account, owner.user, event, created) for event in valid]
            for start in range(0, len(rows), BATCH):
                insert_events(db, rows[start : start + BATCH])
        return len(valid)

    def import_jsonl(
        self,
        account: str,
        source: str | os.PathLike[str] | Iterable[str | bytes],
        *,
        default_user: str | None = None,
        max_bytes: int = MAX_IMPORT_BYTES,
        max_events: int = MAX_IMPORT_EVENTS,
    ) -> ImportSummary:
        """Import one JSON event per line (blank lines skipped), each naming its ``user`` or taking
        ``default_user``; all of it or, if any line is bad, none of it.

        ``source``: a file path (a ``str`` is a path), or the lines themselves. Over ``max_bytes`` or
        ``max_events``: ``ImportTooLargeError``, raised before the rest is read.
        """
        check_name(account, "account name")
        if default_user is not None:
            check_name(default_user, "user name")
        lines = line_source(source, max_bytes, max_events)
        users: Counter[str] = Counter()  # user -> valid events
        problems = EventProblems()
        for number, raw in lines():
            try:
                user, _ = parse_line(raw, default_user)
            except InvalidEvent as err:
                problems.add(f"line {number}", err)
                continue
            users[user] += 1
        problems.raise_any(users.total(), "lines")
        if not users:
            raise UserError("The import holds no events (each line is one JSON event).")
        created = time.time()
        with self.db.transaction() as db:
            ensure_users(db, account, sorted(users))
            batch: list[dict[str, Any]] = []
            for number, raw in lines():  # the second reading: a file is not held in memory
                try:
                    user, event = parse_line(raw, default_user)
                except InvalidEvent as err:
                    message = f"line {number} changed while it was imported ({err}); nothing was imported"
                    raise UserError(message) from None
                batch.append(event_row(account, user, event, created))
                if len(batch) == BATCH:
                    insert_events(db, batch)
                    batch = []
            if batch:
                insert_events(db, batch)
        return ImportSummary(users.total(), dict(sorted(users.items())))

    # --- reading ---

    def events(self, owner: Owner, limit: int = 50) -> list[RecordedEvent]:
        """The user's newest events, newest first."""
        self.users.require(owner)
        with self.db.reading() as db:
            rows = db.execute(
                sql(
                    "SELECT id, kind, item, category, text, at, created_at FROM interest_events "
                    "WHERE account = :account AND user_id = :user ORDER BY at DESC, id DESC LIMIT :limit"
                ),
                owner.params(limit=max(0, limit)),
            )
            return [RecordedEvent(int(r[0]), r[1], r[2], r[3], r[4], float(r[5]), float(r[6])) for r in rows]

    def profile(self, owner: Owner, now: float | None = None) -> InterestProfile:
        """The user's interest profile at ``now`` (default: the present). UnknownUserError if there is no
        such user in the account."""
        now = time.time() if now is None else now
        self.users.require(owner)
        with self.db.reading() as db:
            rows = db.execute(
                sql(
                    "SELECT kind, item, category, text, at FROM interest_events "
                    "WHERE account = :account AND user_id = :user ORDER BY at, id"
                ).execution_options(yield_per=5_000),
                owner.params(),
            )
            categories, items, counts = sum_events(rows, now)
        liked_items, disliked_items = split_liked(items)
        liked_categories, disliked_categories = split_liked(categories)
        embedded = liked_items[:EMBEDDED_ITEMS]
        texts = [passage_text(items[i.name], i.name) for i in embedded]
        embedding = self._mean_embedding(texts, [i.weight for i in embedded])
        return InterestProfile(
            owner=owner,
            computed_at=now,
            categories=liked_categories,
            items=liked_items,
            disliked_categories=disliked_categories,
            disliked_items=disliked_items,
            event_counts={k: counts[k] for k in KINDS if counts[k]},
            embedding=embedding,
            embedding_model=self.embedder.name,
            embedded_items=len(embedded) if embedding is not None else 0,
            embedding_coverage=sum(i.weight for i in embedded) if embedding is not None else 0.0,
        )

    def _mean_embedding(self, texts: Sequence[str], weights: Sequence[float]) -> np.ndarray | None:
        if not texts:
            return None
        vectors = self._embed(texts)
        mean = np.asarray(weights, np.float32) @ vectors
        norm = float(np.linalg.norm(mean))
        return (mean / norm).astype(np.float32) if norm > 0 else None

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) passage embeddings, each distinct text through the model once per store."""
        with self._vectors_lock:
            found = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = dict(zip(missing, self.embedder.passage(missing), strict=True))
            found |= fresh
            with self._vectors_lock:
                self._vectors.update(fresh)
                while len(self._vectors) > EMBEDDING_CACHE:
                    self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)
