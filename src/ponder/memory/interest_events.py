"""An interest event: what a person viewed, liked, saved, followed, shared, bought or dismissed, as it
arrives, as it is checked, and as it is written.

- **Input.** ``InterestEvent`` refuses unknown kinds, missing items, unknown fields, times in the future
  or before 1970. ``InterestStore.record`` and ``import_jsonl`` (interests.py) validate everything before
  writing anything and report every bad event or line (the first ``MAX_REPORTED``, gathered by
  ``EventProblems``) in one ``InvalidEventsError``; then they insert in one transaction, so an import is
  whole or absent. An import over ``max_bytes`` or ``max_events`` is refused (``ImportTooLargeError``,
  raised by ``line_source``) before the rest of it is read. A file is read twice (validate, then insert)
  rather than held in memory.
- **Writing.** Rows go in batches of ``BATCH`` (``insert_events``), the users they name created in the same
  transaction (``ensure_users``); ``write_events`` does both in a caller's transaction, for another store's
  import. Every row names ``account`` and ``user_id``.

Not here: the store's public reads and writes (interests.py), and what the events mean for a person's
tastes (interest_profile.py).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import Connection

from ponder.errors import UserError
from ponder.memory.owner import check_name
from ponder.store.database import sql

__all__ = [
    "BATCH",
    "DAY",
    "KINDS",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_EVENTS",
    "EventProblem",
    "EventProblems",
    "ImportSummary",
    "ImportTooLargeError",
    "InterestEvent",
    "InvalidEvent",
    "InvalidEventsError",
    "Kind",
    "RecordedEvent",
    "ensure_users",
    "event_row",
    "insert_events",
    "line_source",
    "parse_line",
    "validate_event",
    "write_events",
]

Kind = Literal["view", "like", "save", "follow", "share", "purchase", "dismiss"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)

DAY: Final = 86_400.0
MAX_FUTURE_S: Final = DAY  # clock skew allowed on an event's time; beyond it, the time is a mistake

MAX_IMPORT_BYTES: Final = 50 * 1024 * 1024
MAX_IMPORT_EVENTS: Final = 1_000_000
MAX_REPORTED: Final = 20  # bad events or lines named in one error
BATCH: Final = 1_000  # rows per INSERT round trip


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


# --- validation ---


class InvalidEvent(Exception):
    """One event or line that is not valid; its message says why."""


class EventProblems:
    """The bad events of one call: the first MAX_REPORTED, and how many in all."""

    def __init__(self) -> None:
        self.listed: list[EventProblem] = []
        self.total = 0

    def add(self, where: str, err: InvalidEvent) -> None:
        self.total += 1
        if len(self.listed) < MAX_REPORTED:
            self.listed.append(EventProblem(where, str(err)))

    def raise_any(self, valid: int, unit: str) -> None:
        if self.total:
            raise InvalidEventsError(self.listed, self.total, valid + self.total, unit)


def validate_event(given: object) -> InterestEvent:
    if not isinstance(given, Mapping):
        raise InvalidEvent(f"not a JSON object but {_json_type(given)}")
    try:
        return InterestEvent.model_validate(given)
    except ValidationError as err:
        raise InvalidEvent(_describe(err)) from None


def parse_line(raw: str | bytes, default_user: str | None) -> tuple[str, InterestEvent]:
    """(user, event) of one import line, or InvalidEvent."""
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidEvent("not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise InvalidEvent(f"not valid JSON: {err.msg} (column {err.colno})") from None
    except RecursionError:
        raise InvalidEvent("not valid JSON: nested too deeply") from None
    event = validate_event(value)
    user = event.user or default_user
    if user is None:
        raise InvalidEvent("no 'user' field, and the import names no default user")
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


def line_source(
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


# --- storage ---


def write_events(db: Connection, account: str, events: Sequence[tuple[str, InterestEvent]]) -> None:
    """``(user, event)`` pairs written in the caller's transaction (users created as needed): for another
    store's import to add the interests its data implies, whole or not at all with the rest of it."""
    if not events:
        return
    ensure_users(db, account, sorted({user for user, _ in events}))
    created = time.time()
    rows = [event_row(account, user, event, created) for user, event in events]
    for start in range(0, len(rows), BATCH):
        insert_events(db, rows[start : start + BATCH])


def event_row(account: str, user: str, event: InterestEvent, created_at: float) -> dict[str, Any]:
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


def insert_events(db: Connection, rows: list[dict[str, Any]]) -> None:
    db.execute(
        sql(
            "INSERT INTO interest_events (account, user_id, kind, item, category, text, at, created_at) "
            "VALUES (:account, :user, :kind, :item, :category, :text, :at, :created)"
        ),
        rows,
    )


def ensure_users(db: Connection, account: str, users: Sequence[str]) -> None:
    """UserStore.ensure inside the transaction that writes the events: neither exists without the other."""
    now = time.time()
    for start in range(0, len(users), BATCH):
        db.execute(
            sql(
                "INSERT INTO users (account, user_id, created_at) VALUES (:account, :user, :at) "
                "ON CONFLICT (account, user_id) DO NOTHING"
            ),
            [{"account": account, "user": user, "at": now} for user in users[start : start + BATCH]],
        )
