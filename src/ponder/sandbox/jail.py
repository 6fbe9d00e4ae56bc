"""How one jail is launched in each tier, and what must be released once it is gone.

``prepare_jail(tier, limits)`` leases the jail's uid, creates its cgroups, and returns a ``Jail``: the
command line, the (empty or minimal) environment, the child setup (``launch.py``) and the descriptors
to hand over. Tier "bwrap" runs bubblewrap (``bwrap.py``) with the seccomp filter on a pipe; tier
"landlock" runs the interpreter directly, confined by Landlock and seccomp from the child setup, in a
private directory owned by the jail's uid (on /dev/shm when it is a tmpfs, so its pages are charged
to the jail's memory cgroup). ``Jail.release()`` undoes the rest once no process of the jail is left.
This module spawns nothing; ``worker.py`` does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import cgroups
from .bwrap import bwrap_argv, bwrap_binary
from .interpreter import JAIL_ENV, host_interpreter, outermost
from .landlock import LandlockPlan, abi_version
from .launch import ChildSetup
from .limits import Limits
from .seccomp import policy_bpf
from .uids import UidLease, lease_uid

__all__ = ["TIERS", "Jail", "TierName", "prepare_jail"]

TierName = Literal["bwrap", "landlock"]
TIERS: tuple[TierName, ...] = ("bwrap", "landlock")

_SYSTEM_READ_ONLY = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin", "/etc/ld.so.cache")


@dataclass
class Jail:
    tier: TierName
    argv: list[str]
    env: dict[str, str]
    setup: ChildSetup
    lease: UidLease
    cgroup: cgroups.JailCgroup | None
    cwd: str | None = None
    private_dir: str | None = None
    """Tier 2's writable directory (tier 1's /tmp is a tmpfs inside the jail)."""
    status_fd: int = -1
    """The host's end of the status pipe (``bootstrap.READY``, then ``exit N``)."""
    pass_fds: tuple[int, ...] = ()
    """Descriptors the child inherits; the parent closes its copies once the child is spawned."""

    @property
    def uid(self) -> int:
        return self.lease.uid

    def spawned(self) -> None:
        """Close the parent's copies of the descriptors handed to the child."""
        for fd in self.pass_fds:
            os.close(fd)
        self.pass_fds = ()

    def release(self) -> bool:
        """Remove the cgroups and the private directory and free the uid; False if a cgroup is busy."""
        self.spawned()
        if self.status_fd >= 0:
            os.close(self.status_fd)
            self.status_fd = -1
        removed = self.cgroup.remove() if self.cgroup else True
        if self.private_dir:
            shutil.rmtree(self.private_dir, ignore_errors=True)
        if removed:
            self.lease.release()
        return removed


def _seccomp_pipe() -> int:
    program = policy_bpf()
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program)  # a few hundred instructions: far below the pipe's capacity
    finally:
        os.close(write_end)
    return read_end


def _private_dir(uid: int) -> str:
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    path = tempfile.mkdtemp(prefix="ponder-sandbox-", dir=base)
    os.chown(path, uid, uid)
    os.chmod(path, 0o700)
    return path


def prepare_jail(tier: TierName, limits: Limits) -> Jail:
    """Lease a uid and create the cgroups of one jail of ``tier``; the caller spawns it."""
    interpreter = host_interpreter()
    support = cgroups.detect()
    with contextlib.ExitStack() as undo:  # everything made so far is undone if a later step fails
        lease = lease_uid()
        undo.callback(lease.release)
        status_r, status_w = os.pipe()
        undo.callback(os.close, status_r)
        undo.callback(os.close, status_w)
        cgroup = cgroups.JailCgroup(support, limits) if support.version else None
        if cgroup:
            undo.callback(cgroup.remove)
        procs = cgroup.procs_files if cgroup else ()
        if tier == "bwrap":
            binary = bwrap_binary()
            needed = outermost([*interpreter.roots, str(Path(binary).parents[2])])  # bwrap and its libcap
            setup = ChildSetup.create(lease.uid, limits.rlimits(), cgroup_procs=procs, needed=needed)
            seccomp_fd = _seccomp_pipe()
            undo.callback(os.close, seccomp_fd)
            argv = bwrap_argv(binary, interpreter, limits, seccomp_fd=seccomp_fd, status_fd=status_w)
            jail = Jail(tier, argv, {}, setup, lease, cgroup, None, None, status_r, (seccomp_fd, status_w))
        else:
            private = _private_dir(lease.uid)
            undo.callback(shutil.rmtree, private, True)
            plan = LandlockPlan(abi_version(), (*_SYSTEM_READ_ONLY, *interpreter.roots), (private,))
            setup = ChildSetup.create(
                lease.uid,
                limits.rlimits(),
                cgroup_procs=procs,
                needed=interpreter.roots,
                landlock=plan,
                seccomp=policy_bpf(),
            )
            env = {**JAIL_ENV, "HOME": private, "TMPDIR": private}
            argv = interpreter.argv(status_w)
            jail = Jail(tier, argv, env, setup, lease, cgroup, private, private, status_r, (status_w,))
        undo.pop_all()
        return jail
