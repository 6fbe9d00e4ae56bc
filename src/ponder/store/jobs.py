"""The one durable job table: work that must happen later, or again until it does, on any replica.

A job is a row (``jobs``): a ``kind`` (which handler runs it), a ``dedupe_key`` (one job per kind and key:
enqueueing it again changes nothing), a JSON ``payload``, and when it may run. ``JobQueue``:

- ``enqueue`` in the caller's transaction, so the job exists exactly when the work that needs it does;
- ``claim`` takes one due job atomically: on SQLite inside ``BEGIN IMMEDIATE`` (one writer), on PostgreSQL
  with ``SELECT ... FOR UPDATE SKIP LOCKED`` (many workers, none waiting on another's row), and leases it;
  a worker that dies holding a job loses it when the lease ends, and another claims it again;
- ``complete``, or ``retry`` with exponential backoff (``base_s`` doubled per attempt, up to ``cap_s``);
  after ``max_attempts`` the job is ``dead``, kept with its last error for a person to look at.

``JobWorker`` runs the registered handlers (kind -> function of the payload) on the jobs it claims:
``run_due`` until none is due (the CLI, tests), ``serve`` in the server's lifespan as a background task whose
database work runs in a thread, off the event loop. A handler that raises is retried; it must be safe to run
twice (a lease can end while it still runs).

The first kind is the money path's sweeper (commerce/actions.py ``SETTLE_ACTION``); later background work
(webhook and messaging outboxes, post-turn learning) adds kinds here, not other queues.

Not here: what a job does (its handler's module), or cron-like schedules.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from ponder.store.database import Database, sql

__all__ = ["Job", "JobQueue", "JobWorker", "enqueue"]

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    dedupe_key: str
    payload: dict[str, Any]
    attempts: int  # including this one
    max_attempts: int


def enqueue(
    db: Connection,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    *,
    delay_s: float = 0.0,
    max_attempts: int = 10,
    now: float | None = None,
) -> None:
    """A job added in the caller's transaction ``db`` (a change and the job that tells of it commit
    together), due in ``delay_s``; nothing if that kind already has a job with ``dedupe_key``."""
    at = time.time() if now is None else now
    db.execute(
        sql(
            "INSERT INTO jobs (kind, dedupe_key, payload, state, attempts, max_attempts, run_at, "
            "created_at, updated_at) VALUES (:kind, :key, :payload, 'queued', 0, :max, :run_at, :now, "
            ":now) ON CONFLICT (kind, dedupe_key) DO NOTHING"
        ),
        {
            "kind": kind,
            "key": dedupe_key,
            "payload": json.dumps(payload),
            "max": max_attempts,
            "run_at": at + delay_s,
            "now": at,
        },
    )


class JobQueue:
    def __init__(
        self,
        db: Database,
        *,
        lease_s: float = 60.0,
        base_s: float = 1.0,
        cap_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.lease_s = lease_s  # how long a claimed job is its worker's before another may take it
        self.base_s = base_s
        self.cap_s = cap_s
        self.clock = clock

    def enqueue(
        self,
        db: Connection,
        kind: str,
        dedupe_key: str,
        payload: dict[str, Any],
        *,
        delay_s: float = 0.0,
        max_attempts: int = 10,
    ) -> None:
        """Add a job in the caller's transaction ``db``, due in ``delay_s``; nothing if that kind already
        has a job with ``dedupe_key`` (whatever its state)."""
        enqueue(db, kind, dedupe_key, payload, delay_s=delay_s, max_attempts=max_attempts, now=self.clock())

    def claim(self, kinds: list[str] | None = None) -> Job | None:
        """Take the earliest due job (of ``kinds``, default any), leased to the caller; None if none is due.
        A running job whose lease ended (its worker died) is due again."""
        now = self.clock()
        where = "((state = 'queued' AND run_at <= :now) OR (state = 'running' AND lease_until <= :now))"
        params: dict[str, Any] = {"now": now}
        if kinds:
            names = {f"k{i}": k for i, k in enumerate(kinds)}
            where += f" AND kind IN ({', '.join(':' + n for n in names)})"
            params |= names
        with self.db.reading() as db:  # idle polling takes no write lock
            if db.execute(sql(f"SELECT 1 FROM jobs WHERE {where} LIMIT 1"), params).first() is None:
                return None
        skip = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        with self.db.transaction() as db:  # SQLite: BEGIN IMMEDIATE, so no two workers read the same row
            row = (
                db.execute(
                    sql(
                        "SELECT id, kind, dedupe_key, payload, attempts, max_attempts FROM jobs "
                        f"WHERE {where} ORDER BY run_at, id LIMIT 1{skip}"
                    ),
                    params,
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            db.execute(
                sql(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = :lease, "
                    "updated_at = :now WHERE id = :id"
                ),
                {"id": row["id"], "lease": now + self.lease_s, "now": now},
            )
        return Job(
            int(row["id"]),
            str(row["kind"]),
            str(row["dedupe_key"]),
            json.loads(row["payload"]),
            int(row["attempts"]) + 1,
            int(row["max_attempts"]),
        )

    def complete(self, job: Job) -> None:
        """``job`` is done (unless its lease ended and another worker claimed it since: that one decides)."""
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "UPDATE jobs SET state = 'done', updated_at = :now "
                    "WHERE id = :id AND state = 'running' AND attempts = :attempts"
                ),
                {"id": job.id, "attempts": job.attempts, "now": self.clock()},
            )

    def renew(self, job: Job) -> bool:
        """Extend a running job's lease by ``lease_s`` from now (its worker is alive and still at it);
        False if the job is no longer this worker's (its lease ended and another claimed it)."""
        now = self.clock()
        with self.db.transaction() as db:
            renewed = db.execute(
                sql(
                    "UPDATE jobs SET lease_until = :lease, updated_at = :now "
                    "WHERE id = :id AND state = 'running' AND attempts = :attempts"
                ),
                {"id": job.id, "attempts": job.attempts, "lease": now + self.lease_s, "now": now},
            ).rowcount
        return bool(renewed)

    def retry(self, job: Job, error: str, *, after_s: float | None = None) -> str:
        """Run ``job`` again later (``after_s``, default the backoff for its attempts), or give it up as
        ``dead`` once it had ``max_attempts``; the state it is left in."""
        now = self.clock()
        state = "dead" if job.attempts >= job.max_attempts else "queued"
        delay = after_s if after_s is not None else min(self.cap_s, self.base_s * 2 ** (job.attempts - 1))
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "UPDATE jobs SET state = :state, run_at = :run_at, lease_until = 0, last_error = :error, "
                    "updated_at = :now WHERE id = :id AND state = 'running' AND attempts = :attempts"
                ),
                {
                    "id": job.id,
                    "attempts": job.attempts,
                    "state": state,
                    "run_at": now + delay,
                    "error": error[:2000],
                    "now": now,
                },
            )
        return state

    def cancel(self, db: Connection, kind: str, dedupe_key: str) -> None:
        """In the caller's transaction: the job is no longer needed (the work finished another way)."""
        db.execute(
            sql(
                "UPDATE jobs SET state = 'done', updated_at = :now "
                "WHERE kind = :kind AND dedupe_key = :key AND state IN ('queued', 'running')"
            ),
            {"kind": kind, "key": dedupe_key, "now": self.clock()},
        )

    def state(self, kind: str, dedupe_key: str) -> str | None:
        """The job's state (queued, running, done, dead), or None if there is none."""
        with self.db.reading() as db:
            found = db.execute(
                sql("SELECT state FROM jobs WHERE kind = :kind AND dedupe_key = :key"),
                {"kind": kind, "key": dedupe_key},
            ).scalar()
        return None if found is None else str(found)


class JobWorker:
    """Runs the handlers of the job kinds it knows on the jobs it claims."""

    def __init__(self, queue: JobQueue, handlers: Mapping[str, Handler]) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.name = "worker-" + secrets.token_hex(4)  # for the log

    def run_one(self) -> bool:
        """Claim and run one due job; False if none was due."""
        job = self.queue.claim(list(self.handlers))
        if job is None:
            return False
        try:
            self.handlers[job.kind](job.payload)
        except Exception as error:  # the handler failed: it runs again later, until max_attempts
            state = self.queue.retry(job, f"{type(error).__name__}: {error}")
            level = logging.ERROR if state == "dead" else logging.WARNING  # dead: a person must look at it
            log.log(
                level, "%s: job %s (%s) failed, now %s", self.name, job.id, job.kind, state, exc_info=True
            )
            return True
        self.queue.complete(job)
        return True

    def run_due(self, limit: int = 1000) -> int:
        """Run due jobs until none is left (at most ``limit``); how many ran."""
        ran = 0
        while ran < limit and self.run_one():
            ran += 1
        return ran

    async def serve(self, stop: asyncio.Event, *, poll_s: float = 1.0) -> None:
        """Run due jobs until ``stop`` is set, each in a thread; poll every ``poll_s`` when idle."""
        while not stop.is_set():
            try:
                ran = await asyncio.to_thread(self.run_one)
            except Exception:  # the database is away: try again at the next poll
                log.warning("%s: cannot claim a job", self.name, exc_info=True)
                ran = False
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_s)
