"""The host's view of a jail's processes, read from /proc: find them, count them, inspect them, kill them.

Every jail runs under a uid of its own (``uids.py``), so "the jail's processes" is "the tasks whose real
uid is the jail's", wherever they are in the process tree and whichever session or namespace they
moved to. The worker uses this to make sure nothing outlives a program; the escape probes use it to
check from the outside what a program managed to do (its threads, open files, namespaces,
capabilities). Reading /proc is racy by nature: a process can exit between two reads, which every
function here tolerates. Nothing here changes a process other than ``kill_uid``.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

__all__ = [
    "capabilities",
    "fd_targets",
    "kill_uid",
    "namespaces",
    "pids_of_uid",
    "status",
    "task_count",
]


def status(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict (empty when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (OSError, ValueError):
        return {}
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 8192)
    finally:
        os.close(fd)


def pids_of_uid(uid: int, *, zombies: bool = False) -> list[int]:
    """The processes (thread groups) whose real uid is ``uid``; zombies only when asked."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            data = _read(f"/proc/{name}/status")
        except OSError:
            continue
        start = data.find(b"\nUid:\t") + 6
        if start < 6 or int(data[start : data.index(b"\t", start)]) != uid:
            continue
        state = data.find(b"\nState:\t") + 8
        if not zombies and data[state : state + 1] in (b"Z", b"X"):
            continue
        found.append(int(name))
    return found


def task_count(uid: int) -> int:
    """Live threads of all the processes of ``uid`` (what RLIMIT_NPROC and pids.max count)."""
    total = 0
    for pid in pids_of_uid(uid):
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{pid}/task"))
    return total


def kill_uid(uid: int, rounds: int = 100) -> bool:
    """SIGKILL every process of ``uid`` until none is left; False if some survive ``rounds`` sweeps."""
    if uid == 0 or uid == os.getuid():
        raise ValueError(f"refusing to sweep uid {uid}: it is not a jail's uid")
    for _ in range(rounds):
        pids = pids_of_uid(uid)
        if not pids:
            return True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return not pids_of_uid(uid)


def fd_targets(pid: int) -> list[str]:
    """What each open descriptor of ``pid`` refers to (readlink of /proc/PID/fd/N)."""
    targets = []
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    for name in names:
        with contextlib.suppress(OSError):
            targets.append(os.readlink(f"/proc/{pid}/fd/{name}"))
    return targets


def namespaces(pid: int) -> dict[str, str]:
    """namespace kind -> identity (e.g. ``"net" -> "net:[4026531840]"``) of ``pid``."""
    found = {}
    try:
        kinds = os.listdir(f"/proc/{pid}/ns")
    except OSError:
        return {}
    for kind in kinds:
        with contextlib.suppress(OSError):
            found[kind] = os.readlink(f"/proc/{pid}/ns/{kind}")
    return found


def capabilities(pid: int) -> dict[str, int]:
    """The capability sets of ``pid`` (CapInh, CapPrm, CapEff, CapBnd, CapAmb) as integers."""
    fields = status(pid)
    return {key: int(value, 16) for key, value in fields.items() if key.startswith("Cap")}
