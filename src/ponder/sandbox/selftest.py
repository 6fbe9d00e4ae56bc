"""The self-test: the positive control and the escape probes, run in real jails of one tier.

``self_test(tier)`` picks the tier (``tiers.select_tier``), runs the positive control, then every
escape probe (or, with ``quick=True``, those cheap enough for start-up: all but the resource bombs),
each in a fresh jail and judged from the host. The report says which tier ran, whether the control
passed, and each probe's verdict. ``startup_check`` is what ``Sandbox.start`` runs: the quick
self-test, once per tier per process, raising ``SandboxUnavailableError`` when the jail does not hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ponder.errors import SandboxUnavailableError

from . import cgroups
from .control import CONTROL_PROGRAM, CONTROL_STDIN, control_problem
from .jail import TierName
from .limits import Limits
from .probes import PROBES, ProbeHost, ProbeResult, run_probe
from .tiers import select_tier
from .worker import Worker

__all__ = ["SelfTestReport", "self_test", "startup_check"]

_startup_reports: dict[TierName, SelfTestReport] = {}


@dataclass(frozen=True)
class SelfTestReport:
    tier: TierName
    control_passed: bool
    control_detail: str
    probes: tuple[ProbeResult, ...]
    cgroups: str
    """Which cgroup limits the jails got (or why none)."""
    duration_s: float

    @property
    def escaped(self) -> list[ProbeResult]:
        return [p for p in self.probes if p.escaped]

    @property
    def holds(self) -> bool:
        """The control ran and no probe got out."""
        return self.control_passed and not self.escaped


async def self_test(
    tier: TierName | None = None,
    *,
    quick: bool = False,
    on_probe: Callable[[ProbeResult], None] | None = None,
) -> SelfTestReport:
    """Run the positive control and the escape probes in ``tier`` (None: the best this machine has)."""
    started = time.perf_counter()
    chosen = await select_tier(tier)
    worker = await Worker.start(chosen, Limits())
    try:
        problem = control_problem(await worker.run(CONTROL_PROGRAM, CONTROL_STDIN))
    finally:
        await worker.close()
    results = []
    host = ProbeHost()
    try:
        for probe in PROBES:
            if quick and not probe.quick:
                continue
            result = await run_probe(probe, chosen, host)
            results.append(result)
            if on_probe:
                on_probe(result)
    finally:
        host.close()
    return SelfTestReport(
        tier=chosen,
        control_passed=problem is None,
        control_detail=problem
        or "a normal program (numpy, stdin, a scratch file) ran and printed the answer",
        probes=tuple(results),
        cgroups=cgroups.detect().reason,
        duration_s=time.perf_counter() - started,
    )


async def startup_check(tier: TierName | None = None) -> SelfTestReport:
    """The quick self-test, run once per tier per process; raises unless the jail holds."""
    chosen = await select_tier(tier)
    report = _startup_reports.get(chosen)
    if report is None:
        report = await self_test(chosen, quick=True)
        _startup_reports[chosen] = report
    if not report.holds:
        what = [f"{p.name}: {p.detail}" for p in report.escaped]
        if not report.control_passed:
            what.insert(0, report.control_detail)
        raise SandboxUnavailableError(f"the {chosen} sandbox failed its self-test: {'; '.join(what)}")
    return report
