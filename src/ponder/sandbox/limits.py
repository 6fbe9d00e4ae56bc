"""The resource limits of one jailed program, and how they become rlimits.

``Limits`` is plain configuration: the launcher turns it into rlimits (``rlimits()``), cgroup settings
(``cgroups.py``), the size of the jail's tmpfs (``bwrap.py``) and the wall-clock and output caps enforced
from the host (``worker.py``). This module applies nothing itself.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

__all__ = ["MIB", "Limits"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one program may use. The defaults suit short model-written scripts (numpy included)."""

    wall_s: float = 10.0
    """Wall-clock limit; the whole jail is killed when it passes."""
    cpu_s: int = 10
    """CPU seconds per process (RLIMIT_CPU: SIGXCPU at the limit, SIGKILL a second later)."""
    cpu_cores: float = 1.0
    """CPU bandwidth of the whole jail, in cores (cgroup cpu quota, where cgroups are writable)."""
    memory_bytes: int = 512 * MIB
    """Address space per process (RLIMIT_AS) and memory of the whole jail (cgroup, tmpfs pages included)."""
    processes: int = 64
    """Processes and threads of the jail together (RLIMIT_NPROC on its own uid, and the pids cgroup)."""
    output_bytes: int = 1 * MIB
    """Cap on stdout and, separately, on stderr; the program is killed when it writes more."""
    tmpfs_bytes: int = 64 * MIB
    """Size of the only writable place (/tmp in the jail); also the largest file (RLIMIT_FSIZE)."""
    open_files: int = 256
    """Open file descriptors per process (RLIMIT_NOFILE)."""

    def __post_init__(self) -> None:
        if self.wall_s <= 0 or self.cpu_s <= 0 or self.cpu_cores <= 0:
            raise ValueError("sandbox time limits must be positive")
        if min(self.memory_bytes, self.output_bytes, self.tmpfs_bytes) <= 0:
            raise ValueError("sandbox size limits must be positive")
        if self.processes < 4 or self.open_files < 16:
            raise ValueError("a jailed interpreter needs at least 4 processes and 16 open files")

    def rlimits(self) -> tuple[tuple[int, int, int], ...]:
        """(resource, soft, hard) triples, applied in the child before it drops to its uid."""
        return (
            (resource.RLIMIT_NPROC, self.processes, self.processes),
            (resource.RLIMIT_AS, self.memory_bytes, self.memory_bytes),
            (resource.RLIMIT_CPU, self.cpu_s, self.cpu_s + 1),
            (resource.RLIMIT_FSIZE, self.tmpfs_bytes, self.tmpfs_bytes),
            (resource.RLIMIT_NOFILE, self.open_files, self.open_files),
            (resource.RLIMIT_CORE, 0, 0),
            (resource.RLIMIT_MEMLOCK, 0, 0),
            (resource.RLIMIT_MSGQUEUE, 0, 0),
        )
