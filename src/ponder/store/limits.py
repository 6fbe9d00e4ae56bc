"""Per-key rate limits kept in the database: requests per minute (GCRA) and tokens per UTC day.

Requests per minute use GCRA, the generic cell rate algorithm: one number per key, the theoretical arrival
time (TAT) of the next request. A request of cost ``c`` moves the TAT ``c * 60 / limit`` seconds on, and is
refused when that would put it more than a minute ahead of now. A fresh key can take ``limit`` requests at
once, then one every ``60 / limit`` seconds: a burst never gets more than the limit, and there are no window
edges to game. The check and the update run in one ``BEGIN IMMEDIATE`` transaction, so several server
processes on one database share the limit. The database calls run in a worker thread: a write that waits for
the lock (another process, a long session write) never holds up the event loop, and one that waits too long
raises ``StoreBusyError`` (the server's 503 with Retry-After).

On a SQLite file the counters live in a file of their own beside it (``open_rate_limiter``: ``ponder.db`` ->
``ponder.limits.db``). Every request writes them, and SQLite has one writer per file: in the same file as the
sessions, a small request's admission waited behind another account's long session write (100 ms and more
under the heaviest requests). Processes sharing the one file still share the other. PostgreSQL locks rows,
so there the limiter uses the database itself.

Tokens per day are a counter per key and UTC day: a request is refused once the day's tokens are spent, and
a finished request adds what it used (failed and cancelled ones too, for what they used). The database
limiter gathers what requests spend and writes it every ``CHARGE_EVERY_S`` (50 ms) in one transaction, off
the requests' path: this process counts what it has not written yet at once, other processes sharing the
database see it within that time, and a process killed outright loses at most that much of its charges.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ponder.store.database import Database, open_database, sql

__all__ = ["Decision", "Limiter", "RateLimiter", "day_of", "gcra", "open_rate_limiter"]

WINDOW_S = 60.0
CHARGE_EVERY_S = 0.05  # how long the database limiter gathers token charges before writing them

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int | None  # requests per minute; None: no limit
    remaining: int  # whole requests of cost 1 still allowed now
    reset_s: float  # seconds until the limit is whole again
    retry_after_s: float  # seconds to wait before this request would be allowed (0 when allowed)
    reason: str = ""  # what was exceeded, for the error message


class Limiter(Protocol):
    """Where limits live: the database (RateLimiter), or Redis for several servers (RedisLimiter)."""

    async def admit(
        self, key_id: str, per_minute: int | None, cost: float, now: float | None = None
    ) -> Decision: ...

    async def tokens_left(
        self, key_id: str, per_day: int | None, now: float | None = None
    ) -> tuple[int | None, float]: ...

    async def charge_tokens(self, key_id: str, tokens: int, now: float | None = None) -> None: ...

    async def aclose(self) -> None: ...


def gcra(tat: float | None, now: float, per_minute: int, cost: float) -> tuple[Decision, float | None]:
    """The GCRA step: the decision, and the new TAT to store (None when refused: nothing changes)."""
    interval = WINDOW_S / per_minute
    tat = now if tat is None else max(now, tat)
    new_tat = tat + cost * interval
    if new_tat - now > WINDOW_S + 1e-9:
        retry = new_tat - WINDOW_S - now
        remaining = max(0, math.floor((now + WINDOW_S - tat) / interval + 1e-9))
        reason = f"{per_minute} requests per minute"
        return Decision(False, per_minute, remaining, tat - now, retry, reason), None
    remaining = max(0, math.floor((now + WINDOW_S - new_tat) / interval + 1e-9))
    return Decision(True, per_minute, remaining, new_tat - now, 0.0), new_tat


class RateLimiter:
    """Limits in the database: one server, or several processes sharing one SQLite file."""

    def __init__(self, db: Database, *, owns_db: bool = False) -> None:
        self.db = db
        self.owns_db = owns_db  # opened for the limiter alone (open_rate_limiter): closed with it
        self._owed: dict[tuple[str, str], int] = {}  # (key, day) -> tokens charged, not written yet
        self._writing: asyncio.Task[None] | None = None  # the write of what is owed, once it falls due

    async def admit(
        self, key_id: str, per_minute: int | None, cost: float, now: float | None = None
    ) -> Decision:
        """Take ``cost`` requests from the key's minute, or refuse and say when to retry."""
        if per_minute is None:  # no limit: nothing to read
            return self.admit_now(key_id, per_minute, cost, now)
        return await asyncio.to_thread(self.admit_now, key_id, per_minute, cost, now)

    def admit_now(
        self, key_id: str, per_minute: int | None, cost: float, now: float | None = None
    ) -> Decision:
        """``admit``, blocking: for a worker thread that does the request's other blocking work too."""
        if per_minute is None:
            return Decision(True, None, 0, 0.0, 0.0)
        return self._admit(key_id, per_minute, cost, time.time() if now is None else now)

    def _admit(self, key_id: str, per_minute: int, cost: float, now: float) -> Decision:
        with self.db.transaction(lock="rate:" + key_id) as db:
            tat = db.execute(sql("SELECT tat FROM rate_state WHERE key_id = :k"), {"k": key_id}).scalar()
            decision, new_tat = gcra(None if tat is None else float(tat), now, per_minute, cost)
            if new_tat is not None:
                db.execute(
                    sql(
                        "INSERT INTO rate_state (key_id, tat) VALUES (:k, :tat) "
                        "ON CONFLICT (key_id) DO UPDATE SET tat = excluded.tat"
                    ),
                    {"k": key_id, "tat": new_tat},
                )
        return decision

    async def tokens_left(
        self, key_id: str, per_day: int | None, now: float | None = None
    ) -> tuple[int | None, float]:
        """(tokens left today or None for no limit, seconds until the day resets)."""
        if per_day is None:  # no limit: nothing to read
            return self.tokens_left_now(key_id, per_day, now)
        return await asyncio.to_thread(self.tokens_left_now, key_id, per_day, now)

    def tokens_left_now(
        self, key_id: str, per_day: int | None, now: float | None = None
    ) -> tuple[int | None, float]:
        """``tokens_left``, blocking; what this process charged and has not written yet counts too."""
        day, reset = day_of(time.time() if now is None else now)
        if per_day is None:
            return None, reset
        used = self._tokens_used(key_id, day) + self._owed.get((key_id, day), 0)
        return max(0, per_day - used), reset

    def _tokens_used(self, key_id: str, day: str) -> int:
        with self.db.reading() as db:
            tokens = db.execute(
                sql("SELECT tokens FROM token_usage WHERE key_id = :k AND day = :day"),
                {"k": key_id, "day": day},
            ).scalar()
        return 0 if tokens is None else int(tokens)

    async def charge_tokens(self, key_id: str, tokens: int, now: float | None = None) -> None:
        """Add ``tokens`` to the key's day: counted here at once, written with the others within
        ``CHARGE_EVERY_S``."""
        if tokens <= 0:
            return
        day, _ = day_of(time.time() if now is None else now)
        self._owed[key_id, day] = self._owed.get((key_id, day), 0) + tokens
        if self._writing is None or self._writing.done():
            self._writing = asyncio.get_running_loop().create_task(self._write_soon())

    async def flush(self) -> None:
        """Write every charge owed now, in one transaction (kept owed, to be retried, if it fails)."""
        owed, self._owed = self._owed, {}
        if not owed:
            return
        try:
            await asyncio.to_thread(self._charge, owed)
        except BaseException:
            for key, tokens in owed.items():
                self._owed[key] = self._owed.get(key, 0) + tokens
            raise

    async def _write_soon(self) -> None:
        await asyncio.sleep(CHARGE_EVERY_S)
        while self._owed:
            try:
                await self.flush()
            except Exception:  # the database is busy or down: the charges stay owed and are tried again
                log.warning("writing token charges failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)

    def _charge(self, owed: dict[tuple[str, str], int]) -> None:
        with self.db.transaction() as db:
            for (key_id, day), tokens in owed.items():
                db.execute(
                    sql(
                        "INSERT INTO token_usage (key_id, day, tokens) VALUES (:k, :day, :tokens) "
                        "ON CONFLICT (key_id, day) DO UPDATE SET tokens = token_usage.tokens + "
                        "excluded.tokens"
                    ),
                    {"k": key_id, "day": day, "tokens": tokens},
                )

    async def aclose(self) -> None:
        """Write what is owed, then close the limiter's own database (one the caller gave belongs to the
        caller)."""
        if self._writing is not None and not self._writing.done():
            self._writing.cancel()
        await self.flush()
        if self.owns_db:
            self.db.close()


def day_of(now: float) -> tuple[str, float]:
    """(UTC day as YYYY-MM-DD, seconds until the next one)."""
    day = int(now // 86400)
    return _day_name(day), (day + 1) * 86400 - now


@functools.lru_cache(maxsize=4)
def _day_name(day: int) -> str:
    return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")


def open_rate_limiter(db: Database) -> RateLimiter:
    """The limiter of a server on ``db``: on a SQLite file, in its own file beside it (see the module
    docstring); otherwise in ``db``."""
    if db.path is None:
        return RateLimiter(db)
    beside = db.path.with_name(f"{db.path.stem}.limits{db.path.suffix}")
    return RateLimiter(open_database(beside, busy_timeout_s=db.busy_timeout_s), owns_db=True)
