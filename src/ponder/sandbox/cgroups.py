"""Per-jail cgroups (pids, memory, cpu) on cgroup v1 or v2, wherever this process may create them.

``detect()`` finds the hierarchy to use, once per process: cgroup v2 when our own cgroup can delegate
the pids, memory and cpu controllers to children, otherwise the v1 hierarchies of those controllers
that are mounted and writable (any subset). Each jail gets a child of our own cgroup per hierarchy
(``JailCgroup``), with ``pids.max``, a memory limit without swap, and a CPU quota; the jail's first
process joins it from the forked child, before exec, by writing ``0`` to ``cgroup.procs``. Where
nothing is writable, ``detect()`` says why and jails rely on rlimits alone. Nothing here freezes
processes, and nothing here runs at import time.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from .limits import MIB, Limits

__all__ = ["CONTROLLERS", "CgroupSupport", "JailCgroup", "detect"]

CONTROLLERS = ("pids", "memory", "cpu")
_CPU_PERIOD_US = 100_000
_names = itertools.count()


@dataclass(frozen=True)
class CgroupSupport:
    version: int | None
    """1 or 2; None when no cgroup can be created here."""
    parents: dict[str, Path] = field(default_factory=dict)
    """controller -> the directory jails are created in (all the same directory on v2)."""
    reason: str = ""
    """What was found, or why nothing is usable."""

    @property
    def controllers(self) -> tuple[str, ...]:
        return tuple(c for c in CONTROLLERS if c in self.parents)


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(fstype, mount point, super options) of the cgroup mounts this process sees."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        sep = fields.index("-")
        fstype, options = fields[sep + 1], set(fields[sep + 3].split(","))
        if fstype in ("cgroup", "cgroup2"):
            found.append((fstype, fields[4], options))
    return found


def _own_paths() -> dict[str, str]:
    """controller -> our cgroup path in its v1 hierarchy; "" -> our cgroup path on v2."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            paths[name] = path
    return paths


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _apply(controller: str, directory: Path, limits: Limits, version: int) -> None:
    if controller == "pids":
        _write(directory / "pids.max", str(limits.processes))
    elif controller == "memory" and version == 1:
        _write(directory / "memory.limit_in_bytes", str(limits.memory_bytes))
        if (directory / "memory.memsw.limit_in_bytes").exists():
            _write(directory / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
    elif controller == "memory":
        _write(directory / "memory.max", str(limits.memory_bytes))
        if (directory / "memory.swap.max").exists():
            _write(directory / "memory.swap.max", "0")
    elif controller == "cpu" and version == 1:
        _write(directory / "cpu.cfs_period_us", str(_CPU_PERIOD_US))
        _write(directory / "cpu.cfs_quota_us", str(int(limits.cpu_cores * _CPU_PERIOD_US)))
    elif controller == "cpu":
        _write(directory / "cpu.max", f"{int(limits.cpu_cores * _CPU_PERIOD_US)} {_CPU_PERIOD_US}")


def _usable(controller: str, parent: Path, version: int) -> str | None:
    """None when a child cgroup can be made under ``parent`` and limited; else the reason it cannot."""
    probe = parent / f"ponder-sandbox-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError as err:
        return f"cannot create {probe}: {err.strerror}"
    try:
        _apply(controller, probe, Limits(memory_bytes=64 * MIB), version)
        return None
    except OSError as err:
        return f"cannot limit {controller} in {probe}: {err.strerror}"
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


def _detect_v2(mount: Path, own: str) -> tuple[CgroupSupport | None, str]:
    parent = mount / own.lstrip("/")
    try:
        available = set((parent / "cgroup.controllers").read_text().split())
    except OSError as err:
        return None, f"cgroup v2 at {mount}: {err.strerror}"
    if not set(CONTROLLERS) <= available:
        return None, f"cgroup v2 at {mount} offers {sorted(available) or 'no controllers'}"
    try:
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        missing = [c for c in CONTROLLERS if c not in enabled]
        if missing:
            _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
    except OSError as err:
        return None, f"cgroup v2 at {parent}: cannot delegate controllers ({err.strerror})"
    for controller in CONTROLLERS:
        why = _usable(controller, parent, 2)
        if why:
            return None, f"cgroup v2: {why}"
    return CgroupSupport(2, {c: parent for c in CONTROLLERS}, f"cgroup v2 at {parent}"), ""


@functools.cache
def detect() -> CgroupSupport:
    """Which cgroup hierarchy jails use here, decided once per process."""
    try:
        mounts, own = _mounts(), _own_paths()
    except OSError as err:
        return CgroupSupport(None, reason=f"cannot read this process's cgroups: {err.strerror}")
    notes: list[str] = []
    for fstype, point, _ in mounts:
        if fstype == "cgroup2" and "" in own:
            support, why = _detect_v2(Path(point), own[""])
            if support:
                return support
            notes.append(why)
    parents: dict[str, Path] = {}
    for controller in CONTROLLERS:
        for fstype, point, options in mounts:
            if fstype == "cgroup" and controller in options and controller in own:
                parent = Path(point) / own[controller].lstrip("/")
                problem = _usable(controller, parent, 1)
                if problem:
                    notes.append(f"cgroup v1 {controller}: {problem}")
                else:
                    parents[controller] = parent
                break
        else:
            notes.append(f"cgroup v1 {controller}: not mounted")
    if parents:
        return CgroupSupport(1, parents, f"cgroup v1 ({', '.join(parents)})" + "; ".join(["", *notes]))
    return CgroupSupport(None, reason="; ".join(notes) or "no cgroup hierarchy is mounted")


class JailCgroup:
    """One jail's cgroups: created with their limits, joined by the jail, killed and removed after."""

    def __init__(self, support: CgroupSupport, limits: Limits) -> None:
        self.version = support.version or 0
        name = f"ponder-sandbox-{os.getpid()}-{next(_names)}"
        self.dirs: dict[str, Path] = {}
        try:
            for controller, parent in support.parents.items():
                directory = parent / name
                if directory not in self.dirs.values():
                    directory.mkdir()
                self.dirs[controller] = directory
                _apply(controller, directory, limits, self.version)
        except OSError:
            self.remove()
            raise

    @property
    def procs_files(self) -> tuple[bytes, ...]:
        """The cgroup.procs files the jail's first process writes itself into (one per hierarchy)."""
        return tuple(sorted({os.fsencode(d / "cgroup.procs") for d in self.dirs.values()}))

    def pids(self) -> list[int]:
        found: set[int] = set()
        for directory in set(self.dirs.values()):
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
        return sorted(found)

    def kill(self) -> None:
        """SIGKILL every process in the jail's cgroups (cgroup.kill on v2, one by one on v1)."""
        for directory in set(self.dirs.values()):
            if self.version == 2 and (directory / "cgroup.kill").exists():
                with contextlib.suppress(OSError):
                    _write(directory / "cgroup.kill", "1")
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def memory_peak(self) -> int | None:
        """The most memory the jail has held, tmpfs pages included (None without a memory cgroup)."""
        directory = self.dirs.get("memory")
        if directory is None:
            return None
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((directory / name).read_text())
        except (OSError, ValueError):
            return None

    def oom_killed(self) -> bool:
        """Whether the memory cgroup's OOM killer has killed a process of the jail."""
        directory = self.dirs.get("memory")
        if directory is None:
            return False
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            lines = (directory / name).read_text().splitlines()
        except OSError:
            return False
        return any(line.split()[0] == "oom_kill" and int(line.split()[1]) > 0 for line in lines if line)

    def remove(self) -> bool:
        """Remove the jail's cgroups; False while a process is still in one (try again once it is reaped)."""
        removed = True
        for directory in set(self.dirs.values()):
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                removed = False
        return removed
