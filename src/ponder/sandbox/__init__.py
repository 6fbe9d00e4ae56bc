"""The sandbox for model-written Python: a real process jail, never an in-process interpreter.

    from ponder.sandbox import Sandbox, Limits, RunResult, self_test

    async with await Sandbox.start(limits=Limits(), pool_size=2) as sandbox:
        result = await sandbox.run("print(sum(range(10)))")

Tier "bwrap" runs each program under bubblewrap with every namespace unshared; tier "landlock" (for
machines without user namespaces) confines it with Landlock instead. Both add a seccomp filter, a
dedicated unprivileged uid per jail, rlimits, and cgroups where they are writable. Where neither
tier works, ``Sandbox.start`` raises ``SandboxUnavailableError`` and no code runs. ``self_test`` runs
the positive control and the escape probes and reports what held.

    sandbox.py      Sandbox: the executor, a bounded pool of pre-started jailed interpreters
    lazy.py         LazySandbox: a sandbox that starts on its first program
    worker.py       one jailed interpreter, started ahead of time, given one program, then thrown away
    bootstrap.py    the first code a jailed interpreter runs: announce readiness, read one program, run it
    result.py       RunResult: what running one program produced
    limits.py       Limits: one program's resource limits, and their rlimits
    tiers.py        which tiers this machine can run, and the choice of one
    jail.py         how one jail is launched in each tier, and what to release once it is gone
    bwrap.py        tier 1: the bubblewrap command line, and whether it runs here
    landlock.py     tier 2: Landlock's ABI probe and ruleset, through raw syscalls
    seccomp.py      the seccomp policy both tiers load, compiled with libseccomp
    launch.py       what a jail's first process does between fork and exec
    uids.py         dedicated unprivileged uids, one leased per jail
    cgroups.py      per-jail cgroups (pids, memory, cpu) on cgroup v1 or v2
    procs.py        the host's view of a jail's processes, from /proc
    interpreter.py  the host's own Python, and exactly the directories a jail needs for it
    control.py      the positive control: a normal program that must run and print the right answer
    selftest.py     self_test: the positive control and the escape probes, in real jails of one tier
    probes/         the escape probes, each tried from inside and judged from the host
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
