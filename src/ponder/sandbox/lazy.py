"""A sandbox that starts on its first program: for callers that may never need one.

Auto mode sends most turns to Instant or Thinking, which run no programs; starting the jails and their
self-test up front (a few seconds) would slow every short question. ``LazySandbox`` starts the real
``Sandbox`` when the first program arrives. If no tier works, that program (and every later one) gets
the ``SandboxUnavailableError``, which program agents report as a failed agent while the rest vote;
``on_unavailable`` hears the reason once. It never runs code any other way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ponder.errors import SandboxUnavailableError

from .jail import TierName
from .limits import Limits
from .result import RunResult
from .sandbox import DEFAULT_WAIT_S, Sandbox

__all__ = ["LazySandbox"]


class LazySandbox:
    def __init__(
        self,
        limits: Limits | None = None,
        pool_size: int = 2,
        tier: TierName | None = None,
        *,
        wait_s: float = DEFAULT_WAIT_S,
        on_unavailable: Callable[[SandboxUnavailableError], None] | None = None,
    ) -> None:
        self.limits = limits
        self.pool_size = pool_size
        self.tier = tier  # None: the first tier that works here
        self.wait_s = wait_s
        self.on_unavailable = on_unavailable
        self._sandbox: Sandbox | None = None
        self._error: SandboxUnavailableError | None = None
        self._lock = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._sandbox is not None

    async def start(self) -> Sandbox:
        """The running sandbox, started now if no program started it yet; its error if no tier works."""
        async with self._lock:
            if self._sandbox is None and self._error is None:
                try:
                    self._sandbox = await Sandbox.start(
                        self.limits, self.pool_size, self.tier, wait_s=self.wait_s
                    )
                except SandboxUnavailableError as err:
                    self._error = err
                    if self.on_unavailable is not None:
                        self.on_unavailable(err)
            if self._error is not None:
                raise self._error
            assert self._sandbox is not None
            return self._sandbox

    async def run(self, code: str, stdin: str = "", timeout_s: float | None = None) -> RunResult:
        """Run ``code`` in a fresh jail, starting the sandbox first if this is its first program."""
        sandbox = await self.start()
        return await sandbox.run(code, stdin, timeout_s)

    async def aclose(self) -> None:
        async with self._lock:
            if self._sandbox is not None:
                await self._sandbox.aclose()
                self._sandbox = None
