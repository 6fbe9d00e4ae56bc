"""``Sandbox``: the executor for model-written Python, a pool of pre-started jailed interpreters.

    sandbox = await Sandbox.start(limits=Limits(), pool_size=2, tier=None)
    result = await sandbox.run(code, stdin="", timeout_s=None)
    await sandbox.aclose()          # or: async with await Sandbox.start() as sandbox: ...

``start`` picks the tier (or refuses with ``SandboxUnavailableError``), runs the start-up self-test
once per process, and starts ``pool_size`` jails, each an interpreter waiting for its one program.
``run`` hands the program to a ready jail, so it does not wait for a jail to start, and starts a
replacement in the background; the used jail is torn down after its result is back. At most
``pool_size`` programs run at once; more calls wait for a jail. The program talks to the host only
through stdin, stdout and stderr. Nothing here runs code outside a jail.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

from ponder.errors import SandboxUnavailableError, UserError

from .jail import TierName
from .limits import Limits
from .result import RunResult
from .selftest import SelfTestReport, startup_check
from .tiers import select_tier
from .worker import Worker

__all__ = ["Sandbox"]


class Sandbox:
    """Use ``await Sandbox.start(...)``; the constructor does not start anything."""

    def __init__(self, tier: TierName, limits: Limits, pool_size: int, report: SelfTestReport | None) -> None:
        if pool_size < 1:
            raise UserError("a sandbox needs a pool of at least one jail")
        self.tier: TierName = tier
        self.limits = limits
        self.pool_size = pool_size
        self.self_test_report = report
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
        self_test: bool = True,
    ) -> Sandbox:
        """Choose the tier, check that its jail holds, and start the pool; or raise
        ``SandboxUnavailableError``. ``self_test=False`` skips the start-up probes (tests only)."""
        chosen = await select_tier(tier)
        report = await startup_check(chosen) if self_test else None
        sandbox = cls(chosen, limits or Limits(), pool_size, report)
        started = await asyncio.gather(
            *(Worker.start(chosen, sandbox.limits) for _ in range(pool_size)), return_exceptions=True
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
        """Run ``code`` in a fresh jail. Long, loud or failing programs come back as a ``RunResult``
        (``timed_out``, ``output_truncated``, ``killed_reason``), not as exceptions."""
        if self._closed:
            raise UserError("this sandbox is closed")
        worker = await self._take()
        try:
            return await worker.run(code, stdin, timeout_s)
        finally:
            self._track(worker.close())

    async def _take(self) -> Worker:
        """A ready jail (waiting for one if all are busy); its replacement starts now."""
        while True:
            item = await self._ready.get()
            self._track(self._replace())
            if isinstance(item, BaseException):
                raise SandboxUnavailableError(f"a {self.tier} jail did not start: {item}") from item
            if item.process.returncode is None:
                return item
            self._track(item.close())  # died while it waited (killed from outside): take another

    async def _replace(self) -> None:
        try:
            worker = await Worker.start(self.tier, self.limits)
        except Exception as err:
            self._ready.put_nowait(err)
            return
        if self._closed:
            await worker.close()
        else:
            self._ready.put_nowait(worker)

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stop every jail, waiting ones and starting ones, and wait until they are torn down."""
        self._closed = True
        while self._tasks or not self._ready.empty():
            while not self._ready.empty():
                item = self._ready.get_nowait()
                if isinstance(item, Worker):
                    self._track(item.close())
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
