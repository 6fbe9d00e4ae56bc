"""Dedicated unprivileged uids, one per jail, leased so that no two live jails ever share one.

A jail's uid is what makes RLIMIT_NPROC count only that jail's processes, what keeps one jail from
signalling another, and what lets the host find every process of a jail (``procs.py``). Uids are
taken from a high range that no distribution assigns (1.5e9 and up) and leased with an exclusive
``flock`` on a file named after the uid, in a root-only directory, so concurrent host processes never
hand out the same uid. The group id equals the uid. This module does not create users: the kernel
needs no passwd entry to run a process under a uid.
"""

from __future__ import annotations

import fcntl
import os
import random
import stat
import tempfile
from pathlib import Path

__all__ = ["UID_BASE", "UID_SPAN", "UidLease", "lease_uid"]

UID_BASE = 1_500_000_000
UID_SPAN = 1_000_000


def _lock_dir() -> Path:
    private_tmp = Path(tempfile.gettempdir()) / f"ponder-sandbox-{os.geteuid()}"
    for candidate in (Path("/run/ponder-sandbox"), private_tmp):
        try:
            candidate.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            continue
        info = os.lstat(candidate)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077:
            return candidate
    raise OSError("no private directory for uid leases (/run/ponder-sandbox or the temp dir)")


class UidLease:
    """An exclusive claim on one uid, held until ``release()`` (or until this process exits)."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid = uid
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lease_uid() -> UidLease:
    """Claim a uid no other live jail (of any Ponder process on this machine) is using."""
    directory = _lock_dir()
    start = random.randrange(UID_SPAN)
    for offset in range(256):
        uid = UID_BASE + (start + offset) % UID_SPAN
        fd = os.open(directory / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return UidLease(uid, fd)
    raise OSError("every uid tried is leased by a live jail")
