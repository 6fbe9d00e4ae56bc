"""The shape of an escape probe: a program to run in the jail and a verdict the host reaches itself.

A probe's program tries one way out of the jail (read a host secret, reach a host listener, gain a
capability, exhaust a resource, ...). Programs that gain something print a JSON report of what they
tried, then ``HOLD`` on a line of its own, and keep what they gained (open descriptors, children,
namespaces) while the host inspects the live jail; the host kills the jail as soon as it has looked.
The verdict never trusts the program: ``Probe.check`` gets the host's own observations
(``Observation``: what its listeners, victim process and files show, a snapshot of every process
of the jail, samples taken while it ran) and returns None when the jail held, or how it escaped.
This module defines the shapes; the probes live in the sibling modules, the runner in ``runner.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..limits import Limits
from ..result import RunResult

if TYPE_CHECKING:
    from .host import ProbeHost

__all__ = ["HOLD", "PRELUDE", "Observation", "Probe", "ProbeResult", "ProcessView", "syscall_number"]

HOLD = b"HOLD\n"

# Shared by every probe program: raw syscalls, a report of attempts, and the hold.
PRELUDE = """
import ctypes, errno, json, os, signal, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
REPORT = {}

def attempt(name, action):
    try:
        REPORT[name] = repr(action())
    except BaseException as err:
        REPORT[name] = type(err).__name__ + ": " + str(err)

def syscall(number, *args):
    result = libc.syscall(number, *args)
    return result if result >= 0 else "errno " + errno.errorcode.get(ctypes.get_errno(), "?")

def hold(seconds=10.0):
    print(json.dumps(REPORT))
    print("HOLD", flush=True)
    time.sleep(seconds)
"""


def syscall_number(name: str) -> int:
    """This architecture's number for syscall ``name`` (from libseccomp), for programs that call it raw."""
    import pyseccomp  # type: ignore[import-untyped]

    return int(pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name))


@dataclass(frozen=True)
class ProcessView:
    """One process of the jail as the host saw it (from /proc) while the program held."""

    pid: int
    outer: bool
    """The process the host started (bubblewrap's monitor in tier 1), which lives outside the jail's
    namespaces by design."""
    status: dict[str, str]
    fds: list[str]
    block_device_fds: list[str]
    namespaces: dict[str, str]
    mountinfo: str


@dataclass
class Observation:
    """Everything the host saw of one probe run."""

    tier: str
    uid: int
    """The host uid of the jail's processes."""
    result: RunResult
    held: bool
    """The program reached its HOLD line (so ``processes`` shows what it had gained)."""
    processes: list[ProcessView] = field(default_factory=list)
    peak_tasks: int = 0
    """Most threads the jail had at once, sampled from the host while it ran."""
    peak_memory: int | None = None
    """Most memory the jail held: the memory cgroup's peak, or the largest sampled sum of PSS."""
    writable_used: int | None = None
    """Bytes in the jail's writable place at the hold, measured by the host."""
    survivors: list[int] = field(default_factory=list)
    """Processes of the jail's uid still alive after the jail was closed."""

    def report(self) -> dict[str, Any]:
        """The program's own JSON report (what it says it tried); never the basis of a verdict."""
        for line in self.result.stdout.splitlines():
            if line.startswith("{"):
                try:
                    found = json.loads(line)
                except ValueError:
                    continue
                if isinstance(found, dict):
                    return found
        return {}


@dataclass(frozen=True)
class Probe:
    name: str
    description: str
    program: Callable[[ProbeHost], str]
    """The program's source (run after ``PRELUDE``), given the host's bait (paths, ports, pids, secrets)."""
    check: Callable[[ProbeHost, Observation], str | None]
    """The host's verdict: None when the jail held, otherwise what got out."""
    quick: bool = True
    """Cheap enough for the start-up self-test (the resource bombs are not)."""
    limits: Limits | None = None
    sample: bool = False
    """Sample the jail's threads and memory while it runs."""


@dataclass(frozen=True)
class ProbeResult:
    name: str
    escaped: bool
    detail: str
    duration_s: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)
    """What the host measured: peak_tasks, peak_memory_bytes, writable_bytes, run_s, stdout_bytes."""
