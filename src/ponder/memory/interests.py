"""Interest signals: what a person viewed, liked, saved, followed, shared, bought or dismissed, and the
profile of their tastes that modes (and the shopping mode) read from it.

Events are the truth; the profile is computed from them on every read, never stored. An event's weight is
its kind's weight (``KIND_WEIGHTS``) times ``0.5 ** (age / half-life)``, so the profile depends on *now*
and a stored copy would go stale by the hour. Reading is one pass over the user's events (O(events), done
in SQL order with a streaming cursor), which stays cheap for the event counts one person produces.

- **Netting.** A category's (or item's) score is the sum of its events' weights, dismissals included: a
  viewed-then-dismissed item ends up disliked, a bought-then-dismissed one stays liked but weaker. Positive
  scores are normalised to sum to 1 (the shares a recommender can mix by); negative ones are kept apart as
  *disliked*, with their own shares, so a dislike never dilutes the likes. Items are keyed by ``item``
  alone; an item's category and text are the newest non-empty ones its events carried.
- **Embedding.** The weighted mean (liked items only) of the passage embeddings of the items' ``text``
  (``"category: item"`` when there is none), L2-normalised, so a dot product with a query embedding is a
  cosine. Only the ``EMBEDDED_ITEMS`` heaviest items are embedded: the long tail weighs little and would
  make a heavy user's first profile take seconds. Each distinct text is embedded once per store instance
  (a bounded cache), so a profile read again costs no model calls.
- **Input.** ``InterestEvent`` refuses unknown kinds, missing items, unknown fields, times in the future
  or before 1970. ``record`` and ``import_jsonl`` validate everything before writing anything and report
  every bad event or line (the first ``MAX_REPORTED``) in one ``InvalidEventsError``; then they insert in
  one transaction, so an import is whole or absent. An import over ``max_bytes`` or ``max_events`` is
  refused (``ImportTooLargeError``) before the rest of it is read. A file is read twice (validate, then
  insert) rather than held in memory.
- **Ownership.** Every statement names ``account`` and ``user_id``. A user comes into being with their
  first event; ``UserStore.forget`` deletes their events with everything else.

Not here: recommendations (commerce/ reads the profile), deleting single events, and any cross-user
statistics (popularity, collaborative filtering), which would have to read across people.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import Connection

from ponder.errors import UserError
from ponder.memory.embeddings import Embedder
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

Kind = Literal["view", "like", "save", "follow", "share", "purchase", "dismiss"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)

# What one event says about a liking, in views. A view is the weakest and noisiest signal (scrolling,
# mis-taps), so it is the unit. Like, follow and share are deliberate but cost nothing: 2. A save is intent
# to come back: 3. A purchase is money spent, the strongest evidence there is: 5. A dismiss is a deliberate
# "not for me", stronger than a view's faint yes: -3, so one dismissal outweighs a look and a like.
KIND_WEIGHTS: Final[Mapping[Kind, float]] = {
    "view": 1.0,
    "like": 2.0,
    "follow": 2.0,
    "share": 2.0,
    "save": 3.0,
    "purchase": 5.0,
    "dismiss": -3.0,
}
# Tastes move with seasons and life: a month-old signal counts half, a season-old one an eighth, a
# year-old one 1/4,700. Shorter would forget a purchase before the next one; longer would keep recommending
# last winter's coats.
HALF_LIFE_DAYS: Final = 30.0
DAY: Final = 86_400.0
MAX_FUTURE_S: Final = DAY  # clock skew allowed on an event's time; beyond it, the time is a mistake

MAX_IMPORT_BYTES: Final = 50 * 1024 * 1024
MAX_IMPORT_EVENTS: Final = 1_000_000
MAX_REPORTED: Final = 20  # bad events or lines named in one error
EMBEDDED_ITEMS: Final = 100  # the heaviest liked items that make up the profile embedding
EMBEDDING_CACHE: Final = 20_000  # texts whose embeddings a store keeps (384 float32: 1.5 KiB each)
DRIVERS: Final = 3  # events kept per category or item to explain it
_BATCH: Final = 1_000  # rows per INSERT round trip


class InterestEvent(BaseModel):
    """One signal, as it arrives from the API, the CLI or a JSONL line."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    kind: Kind
    item: str = Field(min_length=1, max_length=200)  # an id or a name; the profile keys items by it
    category: str = Field(default="", max_length=200)
    text: str = Field(default="", max_length=2000)  # what the item is: the profile embedding reads it
    at: float = Field(default_factory=time.time, ge=0, allow_inf_nan=False, strict=True)  # unix seconds
    user: str | None = None  # names the user in an import or an API body; the owner decides otherwise

    @field_validator("at")
    @classmethod
    def _not_in_the_future(cls, at: float) -> float:
        if at > time.time() + MAX_FUTURE_S:
            raise ValueError(f"{at:.0f} is more than a day in the future (unix seconds, UTC)")
        return at

    @field_validator("user")
    @classmethod
    def _valid_user(cls, user: str | None) -> str | None:
        if user is not None:
            try:
                check_name(user, "user name")
            except UserError as err:
                raise ValueError(str(err)) from None
        return user


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored."""

    id: int
    kind: Kind
    item: str
    category: str
    text: str
    at: float
    created_at: float


@dataclass(frozen=True)
class EventProblem:
    where: str  # "line 12" in an import, "events[3]" in a list of events
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class InvalidEventsError(UserError):
    """Some events or lines are not valid; nothing was recorded. ``problems``: the first few, in order."""

    def __init__(self, problems: Sequence[EventProblem], total: int, checked: int, unit: str) -> None:
        self.problems = list(problems)
        self.total = total  # how many were bad, including those not listed
        listed = "\n".join(f"  {p}" for p in self.problems)
        more = f"\n  ... and {total - len(self.problems)} more" if total > len(self.problems) else ""
        super().__init__(
            f"{total} of {checked} {unit} are not valid interest events; nothing was stored:\n{listed}{more}"
        )


class ImportTooLargeError(UserError):
    """An import over the byte or event limit; refused before the rest of it was read."""


@dataclass(frozen=True)
class ImportSummary:
    events: int
    users: dict[str, int]  # user -> events imported for them


@dataclass(frozen=True)
class Contribution:
    """One event's part in a category's or item's score."""

    kind: Kind
    item: str
    category: str
    at: float
    age_days: float
    decay: float  # 0.5 ** (age / half-life)
    score: float  # KIND_WEIGHTS[kind] * decay

    def describe(self) -> str:
        return (
            f"{self.kind} '{self.item}' {_age(self.age_days)}: "
            f"{KIND_WEIGHTS[self.kind]:g} × {self.decay:.3f} = {self.score:+.2f}"
        )


@dataclass(frozen=True)
class Interest:
    """A liked or disliked category or item."""

    name: str
    weight: float  # share of its side: liked weights sum to 1, and so do disliked ones
    score: float  # the decayed sum of its events' kind weights; negative when disliked
    events: int
    drivers: tuple[Contribution, ...]  # its largest contributions (either sign), largest first
    category: str = ""  # an item's category; "" for a category

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.category:
            out["category"] = self.category
        return out | {
            "weight": round(self.weight, 6),
            "score": round(self.score, 6),
            "events": self.events,
            "drivers": [
                {"kind": c.kind, "item": c.item, "at": c.at, "age_days": round(c.age_days, 3)}
                | {"decay": round(c.decay, 6), "score": round(c.score, 6)}
                for c in self.drivers
            ],
        }


@dataclass(frozen=True, eq=False)
class InterestProfile:
    """A user's tastes at ``computed_at``; every list is heaviest first."""

    owner: Owner
    computed_at: float
    categories: tuple[Interest, ...]
    items: tuple[Interest, ...]
    disliked_categories: tuple[Interest, ...]
    disliked_items: tuple[Interest, ...]
    event_counts: dict[str, int]  # kind -> events of that kind, in the order of KINDS
    embedding: np.ndarray | None  # (dim,) float32, L2-normalised; None without a liked item
    embedding_model: str
    embedded_items: int  # how many liked items the embedding averages
    embedding_coverage: float  # the share of the liked item weight they carry
    half_life_days: float = HALF_LIFE_DAYS

    @property
    def events(self) -> int:
        return sum(self.event_counts.values())

    def explain(self, top: int = 5) -> list[str]:
        """The profile in lines a person reads: what it holds and which events put it there."""
        lines = [
            f"Interests of {self.owner}: {self.events} events, half-life {self.half_life_days:g} days.",
            "Events: " + (", ".join(f"{n} {k}" for k, n in self.event_counts.items()) or "none"),
        ]
        sections = [
            ("Top categories", self.categories, True),
            ("Top items", self.items, False),
            ("Disliked categories", self.disliked_categories, True),
            ("Disliked items", self.disliked_items, False),
        ]
        for title, interests, with_drivers in sections:
            if not interests:
                continue
            lines.append(f"{title}:")
            for rank, interest in enumerate(interests[:top], start=1):
                lines.extend(_explain_one(rank, interest, with_drivers))
            if len(interests) > top:
                lines.append(f"  ... and {len(interests) - top} more")
        if not self.categories and not self.items:
            lines.append("No liked categories or items yet.")
        if self.embedding is None:
            lines.append("Embedding: none (no liked items).")
        else:
            items = f"{self.embedded_items} liked item" + ("s" if self.embedded_items != 1 else "")
            lines.append(
                f"Embedding: {self.embedding.shape[0]} dimensions, {self.embedding_model}: the weighted mean "
                f"of {items} ({self.embedding_coverage:.0%} of their weight)."
            )
        return lines

    def to_dict(self, top: int = 20, with_vector: bool = False) -> dict[str, Any]:
        """JSON for the CLI and the API: the ``top`` of each list, and the vector only when asked for."""
        embedding: dict[str, Any] | None = None
        if self.embedding is not None:
            embedding = {
                "model": self.embedding_model,
                "dim": int(self.embedding.shape[0]),
                "items": self.embedded_items,
                "coverage": round(self.embedding_coverage, 6),
            }
            if with_vector:
                embedding["vector"] = [round(float(x), 7) for x in self.embedding]
        return {
            "account": self.owner.account,
            "user": self.owner.user,
            "computed_at": self.computed_at,
            "half_life_days": self.half_life_days,
            "events": self.event_counts,
            "categories": [i.to_dict() for i in self.categories[:top]],
            "items": [i.to_dict() for i in self.items[:top]],
            "disliked": {
                "categories": [i.to_dict() for i in self.disliked_categories[:top]],
                "items": [i.to_dict() for i in self.disliked_items[:top]],
            },
            "embedding": embedding,
        }


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
        problems = _Problems()
        for index, given in enumerate(events):
            try:
                event = given if isinstance(given, InterestEvent) else _validate(given)
                if event.user is not None and event.user != owner.user:
                    raise _Invalid(f"names user '{event.user}', but these events are for '{owner.user}'")
            except _Invalid as err:
                problems.add(f"events[{index}]", err)
                continue
            valid.append(event)
        problems.raise_any(len(valid), "events")
        if not valid:
            return 0
        created = time.time()
        with self.db.transaction(lock=f"user:{owner.account}:{owner.user}") as db:
            _ensure_users(db, owner.account, [owner.user])
            rows = [_row(owner.account, owner.user, event, created) for event in valid]
            for start in range(0, len(rows), _BATCH):
                _insert(db, rows[start : start + _BATCH])
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
        lines = _line_source(source, max_bytes, max_events)
        users: Counter[str] = Counter()  # user -> valid events
        problems = _Problems()
        for number, raw in lines():
            try:
                user, _ = _parse_line(raw, default_user)
            except _Invalid as err:
                problems.add(f"line {number}", err)
                continue
            users[user] += 1
        problems.raise_any(users.total(), "lines")
        if not users:
            raise UserError("The import holds no events (each line is one JSON event).")
        created = time.time()
        with self.db.transaction() as db:
            _ensure_users(db, account, sorted(users))
            batch: list[dict[str, Any]] = []
            for number, raw in lines():  # the second reading: a file is not held in memory
                try:
                    user, event = _parse_line(raw, default_user)
                except _Invalid as err:
                    message = f"line {number} changed while it was imported ({err}); nothing was imported"
                    raise UserError(message) from None
                batch.append(_row(account, user, event, created))
                if len(batch) == _BATCH:
                    _insert(db, batch)
                    batch = []
            if batch:
                _insert(db, batch)
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
            categories, items, counts = _sum_events(rows, now)
        liked_items, disliked_items = _split(items)
        liked_categories, disliked_categories = _split(categories)
        embedded = liked_items[:EMBEDDED_ITEMS]
        texts = [_passage(items[i.name], i.name) for i in embedded]
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


# --- validation ---


class _Invalid(Exception):
    """One event or line that is not valid; its message says why."""


class _Problems:
    """The bad events of one call: the first MAX_REPORTED, and how many in all."""

    def __init__(self) -> None:
        self.listed: list[EventProblem] = []
        self.total = 0

    def add(self, where: str, err: _Invalid) -> None:
        self.total += 1
        if len(self.listed) < MAX_REPORTED:
            self.listed.append(EventProblem(where, str(err)))

    def raise_any(self, valid: int, unit: str) -> None:
        if self.total:
            raise InvalidEventsError(self.listed, self.total, valid + self.total, unit)


def _validate(given: object) -> InterestEvent:
    if not isinstance(given, Mapping):
        raise _Invalid(f"not a JSON object but {_json_type(given)}")
    try:
        return InterestEvent.model_validate(given)
    except ValidationError as err:
        raise _Invalid(_describe(err)) from None


def _parse_line(raw: str | bytes, default_user: str | None) -> tuple[str, InterestEvent]:
    """(user, event) of one import line, or _Invalid."""
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        raise _Invalid("not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise _Invalid(f"not valid JSON: {err.msg} (column {err.colno})") from None
    except RecursionError:
        raise _Invalid("not valid JSON: nested too deeply") from None
    event = _validate(value)
    user = event.user or default_user
    if user is None:
        raise _Invalid("no 'user' field, and the import names no default user")
    return user, event


def _describe(err: ValidationError) -> str:
    """Every problem of one event, in words: ``kind "jump": input should be ...; 'item' is missing``."""
    parts = []
    for problem in err.errors(include_url=False):
        name = ".".join(str(p) for p in problem["loc"]) or "event"
        if problem["type"] == "extra_forbidden":
            parts.append(f"unknown field '{name}' (an event has {', '.join(InterestEvent.model_fields)})")
        elif problem["type"] == "missing":
            parts.append(f"'{name}' is missing")
        elif problem["type"] == "value_error":
            parts.append(f"{name}: {problem['ctx']['error']}")
        else:
            message = problem["msg"]
            parts.append(f"{name} {_short(problem['input'])}: {message[:1].lower()}{message[1:]}")
    return "; ".join(parts)


def _short(value: object) -> str:
    """A value as the sender wrote it (JSON), cut to 40 characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _line_source(
    source: str | os.PathLike[str] | Iterable[str | bytes], max_bytes: int, max_events: int
) -> Callable[[], Iterator[tuple[int, str | bytes]]]:
    """A function giving the (line number, line) of every non-blank line, from the start each time it is
    called. Over ``max_bytes`` or ``max_events``: ImportTooLargeError as soon as that is known, before the
    rest is read. Lines given in memory are taken once, then replayed."""
    size = f"{max_bytes / 2**20:g} MiB" if max_bytes >= 2**20 else f"{max_bytes:,} bytes"
    too_large = ImportTooLargeError(
        f"The import is larger than {size}, the most one import takes: split it into several files."
    )

    def limited(lines: Iterable[str | bytes]) -> Iterator[tuple[int, str | bytes]]:
        read = events = 0
        for number, line in enumerate(lines, start=1):
            read += len(line.encode() if isinstance(line, str) else line)
            if read > max_bytes:
                raise too_large
            if line.strip():
                events += 1
                if events > max_events:
                    raise ImportTooLargeError(
                        f"The import holds more than {max_events:,} events, the most one import takes: "
                        "split it into several files."
                    )
                yield number, line

    if not isinstance(source, str | os.PathLike):
        taken = list(limited(source))
        return lambda: iter(taken)
    path = Path(source)
    try:
        file_size = path.stat().st_size
    except OSError as err:
        raise UserError(f"Cannot read the import file {path}: {err.strerror}") from None
    if file_size > max_bytes:  # refused unread
        raise too_large

    def read_file() -> Iterator[tuple[int, str | bytes]]:
        with path.open("rb") as file:
            yield from limited(file)  # checked again as it is read: the file may have grown

    return read_file


# --- the profile's arithmetic ---


@dataclass
class _Tally:
    """A category or item while its events are summed."""

    score: float = 0.0
    events: int = 0
    category: str = ""  # an item's newest non-empty category
    text: str = ""  # an item's newest non-empty text
    drivers: list[tuple[float, int, Contribution]] = field(default_factory=list)  # min-heap (|score|, seq, c)

    def add(self, event: Contribution, seq: int) -> None:
        self.score += event.score
        self.events += 1
        entry = (abs(event.score), seq, event)
        if len(self.drivers) < DRIVERS:
            heapq.heappush(self.drivers, entry)
        elif entry[0] > self.drivers[0][0]:
            heapq.heapreplace(self.drivers, entry)


def _sum_events(rows: Iterable[Any], now: float) -> tuple[dict[str, _Tally], dict[str, _Tally], Counter[str]]:
    """(category -> tally, item -> tally, kind -> events) of (kind, item, category, text, at) rows in time
    order."""
    categories: dict[str, _Tally] = {}
    items: dict[str, _Tally] = {}
    counts: Counter[str] = Counter()
    for seq, (kind, item, category, text, at) in enumerate(rows):
        counts[kind] += 1
        age_days = max(0.0, now - float(at)) / DAY
        decay = 0.5 ** (age_days / HALF_LIFE_DAYS)
        event = Contribution(kind, item, category, float(at), age_days, decay, KIND_WEIGHTS[kind] * decay)
        tally = items.get(item) or items.setdefault(item, _Tally())
        tally.add(event, seq)
        tally.category = category or tally.category  # the newest non-empty one: rows come in time order
        tally.text = text or tally.text
        if category:
            (categories.get(category) or categories.setdefault(category, _Tally())).add(event, seq)
    return categories, items, counts


def _split(tallies: Mapping[str, _Tally]) -> tuple[tuple[Interest, ...], tuple[Interest, ...]]:
    """(liked, disliked), each normalised to shares that sum to 1 and sorted heaviest first."""
    liked = {name: t for name, t in tallies.items() if t.score > 0}
    disliked = {name: t for name, t in tallies.items() if t.score < 0}
    return _ranked(liked), _ranked(disliked)


def _ranked(tallies: Mapping[str, _Tally]) -> tuple[Interest, ...]:
    total = math.fsum(abs(t.score) for t in tallies.values())
    interests = [
        Interest(
            name=name,
            weight=abs(t.score) / total,
            score=t.score,
            events=t.events,
            drivers=tuple(c for _, _, c in sorted(t.drivers, key=lambda d: (-d[0], -d[1]))),
            category=t.category,
        )
        for name, t in tallies.items()
    ]
    return tuple(sorted(interests, key=lambda i: (-i.weight, i.name)))


def _passage(tally: _Tally, item: str) -> str:
    """What an item is, for the embedding: its text, else "category: item"."""
    if tally.text:
        return tally.text
    return f"{tally.category}: {item}" if tally.category else item


def _explain_one(rank: int, interest: Interest, with_drivers: bool) -> list[str]:
    where = f" ({interest.category})" if interest.category else ""
    events = f"{interest.events} event" + ("s" if interest.events != 1 else "")
    share = f"{interest.weight:.1%}  (score {interest.score:+.2f} from {events})"
    head = f"  {rank}. {interest.name}{where}  {share}"
    if with_drivers:
        return [head, *(f"       {c.describe()}" for c in interest.drivers)]
    strongest = interest.drivers[0] if interest.drivers else None
    if strongest is None:
        return [head]
    return [f"{head}: mostly {strongest.kind} {_age(strongest.age_days)} (× {strongest.decay:.3f})"]


def _age(days: float) -> str:
    if days < 1 / 24:
        return "just now"
    if days < 1:
        return f"{days * 24:.0f} h ago"
    return f"{days:.1f} days ago"


# --- storage ---


def write_events(db: Connection, account: str, events: Sequence[tuple[str, InterestEvent]]) -> None:
    """``(user, event)`` pairs written in the caller's transaction (users created as needed): for another
    store's import to add the interests its data implies, whole or not at all with the rest of it."""
    if not events:
        return
    _ensure_users(db, account, sorted({user for user, _ in events}))
    created = time.time()
    rows = [_row(account, user, event, created) for user, event in events]
    for start in range(0, len(rows), _BATCH):
        _insert(db, rows[start : start + _BATCH])


def _row(account: str, user: str, event: InterestEvent, created_at: float) -> dict[str, Any]:
    return {
        "account": account,
        "user": user,
        "kind": event.kind,
        "item": event.item,
        "category": event.category,
        "text": event.text,
        "at": event.at,
        "created": created_at,
    }


def _insert(db: Connection, rows: list[dict[str, Any]]) -> None:
    db.execute(
        sql(
            "INSERT INTO interest_events (account, user_id, kind, item, category, text, at, created_at) "
            "VALUES (:account, :user, :kind, :item, :category, :text, :at, :created)"
        ),
        rows,
    )


def _ensure_users(db: Connection, account: str, users: Sequence[str]) -> None:
    """UserStore.ensure inside the transaction that writes the events: neither exists without the other."""
    now = time.time()
    for start in range(0, len(users), _BATCH):
        db.execute(
            sql(
                "INSERT INTO users (account, user_id, created_at) VALUES (:account, :user, :at) "
                "ON CONFLICT (account, user_id) DO NOTHING"
            ),
            [{"account": account, "user": user, "at": now} for user in users[start : start + _BATCH]],
        )
