"""Which sandbox tiers this machine can run, and the choice of one.

A tier is usable when its static requirements hold (root to hand each jail a dedicated uid, a
buildable seccomp filter, then bubblewrap and unprivileged user namespaces for tier 1, Landlock for
tier 2) and a jail of that tier actually runs the positive control (``control.py``). The result is
kept per process: the kernel does not change under a running Ponder. ``select_tier`` returns the
best usable tier, or the one asked for, and otherwise raises ``SandboxUnavailableError`` with every
tier's reason. There is no third choice: no unjailed subprocess, no in-process interpreter.
"""

from __future__ import annotations

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

_verified: dict[TierName, TierStatus] = {}


@dataclass(frozen=True)
class TierStatus:
    name: TierName
    available: bool
    reason: str
    """Why the tier cannot be used, or what it was verified with."""


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
    status = TierStatus(tier, problem is None, problem or "the positive control ran in a jail")
    _verified[tier] = status
    return status


async def select_tier(tier: TierName | None = None) -> TierName:
    """The tier to use: ``tier`` if it works, else (when None) the best that works; or refuse."""
    if tier is not None and tier not in TIERS:
        raise SandboxUnavailableError(f"unknown sandbox tier {tier!r}; choose one of {', '.join(TIERS)}")
    statuses = [await tier_status(t) for t in ((tier,) if tier else TIERS)]
    for status in statuses:
        if status.available:
            return status.name
    reasons = "; ".join(f"{s.name}: {s.reason}" for s in statuses)
    raise SandboxUnavailableError(f"no sandbox can run model-written code here, so none is run ({reasons})")
