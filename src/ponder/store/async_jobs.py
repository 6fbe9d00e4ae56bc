"""Async job handlers on the one job table (jobs.py): work that awaits a model or a platform, run on the
server's event loop by ``AsyncJobWorker`` while its database steps run in worker threads.

``JobWorker`` (jobs.py) runs plain functions one at a time in a thread: right for the money path's
sweeper. Work that calls a model or an HTTP API (a messaging thread's turn and its sends, learning from a
turn) is async and slow, so here:

- ``concurrency`` workers claim due jobs of their kinds (any replica, ``SKIP LOCKED`` on PostgreSQL);
- a running job's lease is **renewed** every third of ``lease_s``, so a turn may take minutes while a
  replica that died loses its jobs to another within ``lease_s``;
- a handler that raises ``RetryLater`` runs again after the time it names (a platform's ``Retry-After``);
  any other exception retries with the queue's backoff, and once a job is dead its kind's ``on_dead``
  hook (if any) runs, so a person is told rather than left waiting;
- ``wake()`` (after enqueueing) starts idle workers at once; otherwise they poll every ``poll_s``.

Not here: what a job does (its handler's module).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ponder.store.jobs import Job, JobQueue

__all__ = ["AsyncHandler", "AsyncJobWorker", "RetryLater"]

log = logging.getLogger(__name__)

AsyncHandler = Callable[[dict[str, Any]], Awaitable[None]]
InThread = Callable[..., Awaitable[Any]]


class RetryLater(Exception):
    """The job cannot finish now: run it again after ``after_s`` seconds (None: the queue's backoff)."""

    def __init__(self, message: str, after_s: float | None) -> None:
        super().__init__(message)
        self.after_s = after_s


class AsyncJobWorker:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, AsyncHandler],
        *,
        on_dead: Mapping[str, Callable[[dict[str, Any]], Any]] | None = None,
        in_thread: InThread = asyncio.to_thread,
        concurrency: int = 4,
        poll_s: float = 1.0,
    ) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.on_dead = dict(on_dead or {})  # kind -> a blocking function of the payload, run in a thread
        self.in_thread = in_thread
        self.concurrency = concurrency
        self.poll_s = poll_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New work is queued: idle workers look now instead of at their next poll."""
        self._wake.set()

    async def serve(self, stop: asyncio.Event) -> None:
        """Run the handlers' jobs until ``stop`` is set, ``concurrency`` at once."""
        workers = [asyncio.create_task(self._work(stop)) for _ in range(self.concurrency)]
        try:
            await stop.wait()
        finally:
            self._wake.set()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def run_due(self) -> int:
        """Run due jobs one at a time until none is left (tests, the CLI); how many ran."""
        ran = 0
        while await self.run_one():
            ran += 1
        return ran

    async def _work(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                ran = await self.run_one()
            except Exception:  # the database is away: try again at the next poll
                log.warning("jobs: cannot claim a job", exc_info=True)
                ran = False
            if not ran:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)

    async def run_one(self) -> bool:
        """Claim one due job and run it; False if none was due."""
        job = await self.in_thread(self.queue.claim, list(self.handlers))
        if job is None:
            return False
        renewing = asyncio.create_task(self._renew(job))
        try:
            await self.handlers[job.kind](job.payload)
        except RetryLater as later:
            await self.in_thread(self.queue.retry, job, str(later), after_s=later.after_s)
            self._wake.set()
            return True
        except Exception as error:  # retried with backoff until its attempts run out (then dead, logged)
            state = await self.in_thread(self.queue.retry, job, f"{type(error).__name__}: {error}")
            dead = self.on_dead.get(job.kind) if state == "dead" else None
            if dead is not None:
                await self.in_thread(dead, job.payload)
            log.log(
                logging.ERROR if state == "dead" else logging.WARNING,
                "jobs: job %s (%s) failed, now %s",
                job.id,
                job.kind,
                state,
                exc_info=True,
            )
            return True
        finally:
            renewing.cancel()
        await self.in_thread(self.queue.complete, job)
        self._wake.set()  # a job may have queued another
        return True

    async def _renew(self, job: Job) -> None:
        """Keep ``job``'s lease while it runs: renewed at a third of the lease."""
        while True:
            await asyncio.sleep(self.queue.lease_s / 3)
            try:
                if not await self.in_thread(self.queue.renew, job):
                    log.warning("jobs: job %s was taken over while it ran", job.id)
                    return
            except Exception:  # the database is away: the next renewal tries again
                log.warning("jobs: cannot renew job %s", job.id, exc_info=True)
