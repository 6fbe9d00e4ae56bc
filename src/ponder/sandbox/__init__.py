"""The sandbox for model-written Python: a real process jail, never an in-process interpreter.

    from ponder.sandbox import Sandbox, Limits, RunResult, self_test

    async with await Sandbox.start(limits=Limits(), pool_size=2) as sandbox:
        result = await sandbox.run("print(sum(range(10)))")

Tier "bwrap" runs each program under bubblewrap with every namespace unshared; tier "landlock" (for
machines without user namespaces) confines it with Landlock instead. Both add a seccomp filter, a
dedicated unprivileged uid per jail, rlimits, and cgroups where they are writable. Where neither
tier works, ``Sandbox.start`` raises ``SandboxUnavailableError`` and no code runs. ``self_test`` runs
the positive control and the escape probes and reports what held.
"""

from .jail import TierName
from .limits import Limits
from .probes import ProbeResult
from .result import RunResult
from .sandbox import Sandbox
from .selftest import SelfTestReport, self_test
from .tiers import TierStatus, tier_status

__all__ = [
    "Limits",
    "ProbeResult",
    "RunResult",
    "Sandbox",
    "SelfTestReport",
    "TierName",
    "TierStatus",
    "self_test",
    "tier_status",
]
