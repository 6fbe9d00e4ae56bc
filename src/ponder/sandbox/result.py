"""What running one program in the jail produced: ``RunResult``.

A result always comes back, whatever the program did: a program that runs past its wall limit, prints
too much or is killed for memory is described by ``timed_out``, ``output_truncated`` and
``killed_reason``, never by an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["KilledReason", "RunResult"]

KilledReason = Literal["timeout", "output_limit", "memory", "cpu_time", "cancelled"]


@dataclass(frozen=True)
class RunResult:
    stdout: str
    stderr: str
    exit_code: int
    """The program's exit status; 128+N when it was killed by signal N (the shell's convention)."""
    timed_out: bool
    output_truncated: bool
    duration_s: float
    """From handing the program to the jail until its result was complete."""
    killed_reason: KilledReason | None = None
    """Why the jail was killed, when it was: the wall limit, the output cap, the memory cgroup's OOM
    killer, the CPU-time rlimit, or the caller cancelling the run."""

    @property
    def ok(self) -> bool:
        """The program exited 0 on its own."""
        return self.exit_code == 0 and self.killed_reason is None
