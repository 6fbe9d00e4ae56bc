"""``Sandbox``: the executor for model-written Python, a bounded pool of pre-started jailed interpreters.

    sandbox = await Sandbox.start(limits=Limits(), pool_size=2, tier=None, wait_s=30.0)
    result = await sandbox.run(code, stdin="", timeout_s=None)
    await sandbox.aclose()          # or: async with await Sandbox.start() as sandbox: ...

``start`` picks the tier (or refuses with ``SandboxUnavailableError``), runs the start-up self-test
once per process, and starts ``pool_size`` jails, each an interpreter waiting for its one program.
The pool has ``pool_size`` slots and a slot holds at most one jail at a time, whether it is starting,
waiting, running a program or being torn down: a used jail is torn down first and its replacement
started after. So at most ``pool_size`` jails are alive, and at most ``pool_size`` programs run, at
once, however many callers share the sandbox (one per server: every request's programs queue here).
``run`` hands the program to a ready jail, so an idle pool does not make it wait for a jail to start;
when every jail is busy, calls wait their turn in arrival order, each for at most ``wait_s`` seconds,
and then get ``SandboxBusyError`` with nothing run. ``running``, ``alive`` and their peaks count what
the pool holds. The program talks to the host only through stdin, stdout and stderr. Nothing here runs
code outside a jail.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

from ponder.errors import SandboxBusyError, SandboxUnavailableError, UserError

from .jail import TierName
from .limits import Limits
from .result import RunResult
from .selftest import SelfTestReport, startup_check
from .tiers import select_tier
from .worker import Worker

__all__ = ["DEFAULT_WAIT_S", "Sandbox"]

DEFAULT_WAIT_S = 30.0  # how long a program waits for a free jail before it is refused


class _Closed(Exception):
    """Stands in the queue of ready jails once the sandbox is closed."""


class Sandbox:
    """Use ``await Sandbox.start(...)``; the constructor does not start anything."""

    def __init__(
        self,
        tier: TierName,
        limits: Limits,
        pool_size: int,
        report: SelfTestReport | None,
        *,
        wait_s: float = DEFAULT_WAIT_S,
    ) -> None:
        if pool_size < 1:
            raise UserError("a sandbox needs a pool of at least one jail")
        if wait_s < 0:
            raise UserError("a sandbox's wait for a free jail cannot be negative")
        self.tier: TierName = tier
        self.limits = limits
        self.pool_size = pool_size
        self.wait_s = wait_s
        self.self_test_report = report
        self.running = 0  # programs in a jail now
        self.peak_running = 0
        self.alive = 0  # jails from the start of their launch to the end of their teardown
        self.peak_alive = 0
        # One entry per slot whose jail is ready to take, or whose jail failed to start.
        self._ready: asyncio.Queue[Worker | BaseException] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @classmethod
    async def start(
        cls,
        limits: Limits | None = None,
        pool_size: int = 2,
        tier: TierName | None = None,
        *,
        wait_s: float = DEFAULT_WAIT_S,
        self_test: bool = True,
    ) -> Sandbox:
        """Choose the tier, check that its jail holds, and start the pool; or raise
        ``SandboxUnavailableError``. ``self_test=False`` skips the start-up probes (tests only)."""
        chosen = await select_tier(tier)
        report = await startup_check(chosen) if self_test else None
        sandbox = cls(chosen, limits or Limits(), pool_size, report, wait_s=wait_s)
        started = await asyncio.gather(
            *(sandbox._start_jail() for _ in range(pool_size)), return_exceptions=True
        )
        failures = [w for w in started if isinstance(w, BaseException)]
        for item in started:
            if isinstance(item, Worker):
                sandbox._ready.put_nowait(item)
        if failures:
            await sandbox.aclose()
            raise SandboxUnavailableError(f"the {chosen} jails did not start: {failures[0]}") from failures[0]
        return sandbox

    async def run(self, code: str, stdin: str = "", timeout_s: float | None = None) -> RunResult:
        """Run ``code`` in a fresh jail, once one is free (``SandboxBusyError`` when none is within
        ``wait_s``). Long, loud or failing programs come back as a ``RunResult`` (``timed_out``,
        ``output_truncated``, ``killed_reason``), not as exceptions."""
        if self._closed:
            raise UserError("this sandbox is closed")
        worker = await self._take()
        self.running += 1
        self.peak_running = max(self.peak_running, self.running)
        try:
            return await worker.run(code, stdin, timeout_s)
        finally:
            self.running -= 1
            self._track(self._recycle(worker))

    async def _take(self) -> Worker:
        """A ready jail, waiting in line for one while all are busy, for at most ``wait_s``."""
        try:
            async with asyncio.timeout(self.wait_s):
                while True:
                    item = await self._ready.get()
                    if isinstance(item, _Closed):
                        self._ready.put_nowait(item)  # for the next caller in line
                        raise UserError("this sandbox is closed")
                    if isinstance(item, BaseException):
                        self._track(self._refill())  # that slot's jail never started: try again
                        raise SandboxUnavailableError(f"a {self.tier} jail did not start: {item}") from item
                    if item.process.returncode is None:
                        return item
                    self._track(self._recycle(item))  # died while it waited (killed from outside)
        except TimeoutError:
            raise SandboxBusyError(
                f"All {self.pool_size} sandbox jails stayed busy for {self.wait_s:g} s, so the program was "
                "not run. Run fewer programs at once, or try again."
            ) from None

    async def _start_jail(self) -> Worker:
        self.alive += 1
        self.peak_alive = max(self.peak_alive, self.alive)
        try:
            return await Worker.start(self.tier, self.limits)
        except BaseException:
            self.alive -= 1
            raise

    async def _close_jail(self, worker: Worker) -> None:
        try:
            await worker.close()
        finally:
            self.alive -= 1

    async def _recycle(self, worker: Worker) -> None:
        """Tear a used jail down, then start its slot's next one."""
        await self._close_jail(worker)
        await self._refill()

    async def _refill(self) -> None:
        """Start a jail for an empty slot (an error stands in for it when it does not start)."""
        if self._closed:
            return
        try:
            worker = await self._start_jail()
        except Exception as err:
            self._ready.put_nowait(err)
            return
        if self._closed:
            await self._close_jail(worker)
        else:
            self._ready.put_nowait(worker)

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stop every jail, waiting ones and starting ones, and wait until they are torn down; calls still
        waiting for a jail get ``UserError``."""
        self._closed = True
        while self._tasks or not self._ready.empty():
            while not self._ready.empty():
                item = self._ready.get_nowait()
                if isinstance(item, Worker):
                    self._track(self._close_jail(item))
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        self._ready.put_nowait(_Closed())  # callers still waiting for a jail are told, not kept waiting

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
