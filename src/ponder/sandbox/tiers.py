"""Which sandbox tiers this machine can run, and the choice of one.

A tier is usable when its static requirements hold (root to hand each jail a dedicated uid, a
buildable seccomp filter, then bubblewrap and unprivileged user namespaces for tier 1, Landlock for
tier 2) and a jail of that tier actually runs the positive control (``control.py``). The result is
kept per process: the kernel does not change under a running Ponder. ``select_tier`` returns the
best usable tier, or the one asked for, and otherwise raises ``SandboxUnavailableError`` with every
tier's reason. There is no third choice: no unjailed subprocess, no in-process interpreter.

When it picks a weaker tier than the strongest one, it says so loudly (a warning on the ``ponder.sandbox``
logger, once per process), and louder still when the machine offers everything the stronger tier needs but
its jail failed the positive control (``TierStatus.supported`` and not ``available``): that is a broken
setup to fix, not a machine without namespaces.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

from ponder.errors import SandboxUnavailableError

from .bwrap import bwrap_binary, userns_problem
from .control import CONTROL_PROGRAM, CONTROL_STDIN, control_problem
from .jail import TIERS, TierName
from .landlock import landlock_problem
from .limits import Limits
from .seccomp import SeccompUnavailable, policy_bpf
from .worker import JailStartError, Worker

__all__ = ["TierStatus", "select_tier", "static_problem", "tier_status"]

log = logging.getLogger("ponder.sandbox")

_verified: dict[TierName, TierStatus] = {}
_warned: set[tuple[TierName, TierName]] = set()  # (weaker tier in use, stronger tier it replaces)


@dataclass(frozen=True)
class TierStatus:
    name: TierName
    available: bool
    reason: str
    """Why the tier cannot be used, or what it was verified with."""
    supported: bool = False
    """The machine has everything the tier needs (its static requirements hold), whether or not its jail
    then passed the positive control: a supported tier that is not available is a failure to fix."""


def static_problem(tier: TierName) -> str | None:
    """What this machine lacks for ``tier``, checked without starting a jail (None: nothing known)."""
    if not sys.platform.startswith("linux"):
        return "the sandbox needs Linux"
    if os.geteuid() != 0:
        return "each jail runs under a dedicated unprivileged uid, which needs Ponder to run as root"
    try:
        policy_bpf()
    except SeccompUnavailable as err:
        return str(err)
    if tier == "bwrap":
        try:
            bwrap_binary()
        except OSError as err:
            return f"bubblewrap: {err}"
        problem = userns_problem()
        return f"unprivileged user namespaces are disabled ({problem})" if problem else None
    return landlock_problem()


async def tier_status(tier: TierName) -> TierStatus:
    """Whether ``tier`` works here: its requirements, then the positive control in a real jail."""
    if tier in _verified:
        return _verified[tier]
    problem = static_problem(tier)
    supported = problem is None
    if problem is None:
        try:
            worker = await Worker.start(tier, Limits())
        except (JailStartError, OSError) as err:
            problem = f"a jail did not start: {err}"
        else:
            try:
                problem = control_problem(await worker.run(CONTROL_PROGRAM, CONTROL_STDIN))
            finally:
                await worker.close()
    status = TierStatus(tier, problem is None, problem or "the positive control ran in a jail", supported)
    _verified[tier] = status
    return status


async def select_tier(tier: TierName | None = None) -> TierName:
    """The tier to use: ``tier`` if it works, else (when None) the best that works; or refuse."""
    if tier is not None and tier not in TIERS:
        raise SandboxUnavailableError(f"unknown sandbox tier {tier!r}; choose one of {', '.join(TIERS)}")
    statuses = [await tier_status(t) for t in ((tier,) if tier else TIERS)]
    for index, status in enumerate(statuses):
        if status.available:
            for stronger in statuses[:index]:
                _warn_weaker(status.name, stronger)
            return status.name
    reasons = "; ".join(f"{s.name}: {s.reason}" for s in statuses)
    raise SandboxUnavailableError(f"no sandbox can run model-written code here, so none is run ({reasons})")


def _warn_weaker(chosen: TierName, stronger: TierStatus) -> None:
    if (chosen, stronger.name) in _warned:
        return
    _warned.add((chosen, stronger.name))
    if stronger.supported:
        log.warning(
            "SANDBOX DEGRADED: this machine supports the %s tier but its jail failed its own check (%s); "
            "model-written programs run in the weaker %s tier instead. "
            "Fix the setup (`ponder sandbox check`).",
            stronger.name,
            stronger.reason,
            chosen,
        )
    else:
        log.warning(
            "The sandbox runs model-written programs in the %s tier, not the stronger %s tier (%s).",
            chosen,
            stronger.name,
            stronger.reason,
        )
