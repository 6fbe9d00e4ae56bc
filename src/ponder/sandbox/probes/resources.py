"""Probes on resources: fork and thread bombs, memory and CPU hogs, filling the disk, exhausting file
descriptors, and flooding the output. Each verdict compares what the host measured against the limit
the jail was given (``PROBE_LIMITS``)."""

from __future__ import annotations

from ..limits import MIB, Limits
from .base import Observation, Probe
from .host import ProbeHost

__all__ = ["PROBE_LIMITS", "RESOURCE_PROBES"]

PROBE_LIMITS = Limits(wall_s=5.0)
"""The default limits, with a shorter wall clock: what the resource probes hold the jail to."""
_CPU_LIMITS = Limits(wall_s=1.0)


def _fork_bomb_program(host: ProbeHost) -> str:
    return """
children = 0
failure = None
started = time.monotonic()
while time.monotonic() - started < 2.0:
    try:
        if os.fork() == 0:
            while True:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.05)
        children += 1
    except OSError as err:
        failure = str(err)
        time.sleep(0.01)
REPORT["forked"] = children
REPORT["first failure"] = failure
hold(1.0)
"""


def _thread_bomb_program(host: ProbeHost) -> str:
    return """
import threading
stop = threading.Event()
threads = []
failure = None
for _ in range(100000):
    try:
        thread = threading.Thread(target=stop.wait, daemon=True)
        thread.start()
        threads.append(thread)
    except (RuntimeError, MemoryError) as err:
        failure = str(err)
        break
REPORT["threads"] = len(threads)
REPORT["failure"] = failure
hold(1.0)
"""


def _tasks_check(host: ProbeHost, observation: Observation) -> str | None:
    limit = PROBE_LIMITS.processes
    if observation.peak_tasks > limit:
        return f"ran {observation.peak_tasks} tasks at once (limit {limit})"
    return None


def _memory_bomb_program(host: ProbeHost) -> str:
    return """
def touch(size):
    block = bytearray(size)
    for offset in range(0, size, 4096):
        block[offset] = 1
    return block
kept = []
attempt("2 GiB in one process", lambda: kept.append(touch(2 << 30)) or "ALLOCATED")
attempt("500 MiB in one process", lambda: kept.append(touch(500 << 20)) or "ALLOCATED")
kept.clear()
children = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        try:
            kept.append(touch(256 << 20))
            time.sleep(10)
        finally:
            os._exit(0)
    children.append(pid)
time.sleep(1.5)
REPORT["children alive"] = sum(1 for pid in children if os.waitpid(pid, os.WNOHANG) == (0, 0))
hold(1.0)
"""


def _memory_check(host: ProbeHost, observation: Observation) -> str | None:
    limit = PROBE_LIMITS.memory_bytes
    peak = observation.peak_memory
    if peak is not None and peak > limit:
        return f"held {peak // MIB} MiB at once (limit {limit // MIB} MiB)"
    return None


def _cpu_program(host: ProbeHost) -> str:
    return """
for _ in range(3):
    if os.fork() == 0:
        while True:
            pass
while True:
    pass
"""


def _cpu_check(host: ProbeHost, observation: Observation) -> str | None:
    result, wall = observation.result, _CPU_LIMITS.wall_s
    if not result.timed_out or result.duration_s > wall + 1.0:
        return (
            f"a CPU loop ran {result.duration_s:.2f} s (wall limit {wall} s, timed out: {result.timed_out})"
        )
    return None


def _disk_fill_program(host: ProbeHost) -> str:
    return """
written = 0
failure = None
block = b"x" * (1 << 20)
try:
    for n in range(100000):
        with open("fill-%d" % n, "wb") as f:
            for _ in range(16):
                f.write(block)
                f.flush()
                written += len(block)
except OSError as err:
    failure = str(err)
REPORT["written"] = written
REPORT["failure"] = failure
hold(1.0)
"""


def _disk_fill_check(host: ProbeHost, observation: Observation) -> str | None:
    used = observation.writable_used
    if used is None:
        return "the host could not measure the jail's writable place"
    bound = PROBE_LIMITS.tmpfs_bytes if observation.tier == "bwrap" else PROBE_LIMITS.memory_bytes
    return f"wrote {used // MIB} MiB (bound {bound // MIB} MiB)" if used > bound else None


def _fd_program(host: ProbeHost) -> str:
    return """
held = []
failure = None
try:
    for _ in range(1000000):
        held.append(os.open("/dev/null", os.O_RDONLY))
except OSError as err:
    failure = str(err)
REPORT["opened"] = len(held)
REPORT["failure"] = failure
hold(1.0)
"""


def _fd_check(host: ProbeHost, observation: Observation) -> str | None:
    limit = PROBE_LIMITS.open_files
    worst = max((len(v.fds) for v in observation.processes), default=0)
    return f"held {worst} descriptors in one process (limit {limit})" if worst > limit else None


def _output_program(host: ProbeHost) -> str:
    return """
import sys
chunk = "x" * (1 << 20)
for _ in range(1024):
    sys.stdout.write(chunk)
"""


def _output_check(host: ProbeHost, observation: Observation) -> str | None:
    result, cap = observation.result, PROBE_LIMITS.output_bytes
    if len(result.stdout.encode()) > cap or not result.output_truncated:
        return (
            f"returned {len(result.stdout)} bytes of output (cap {cap}, truncated: {result.output_truncated})"
        )
    if result.duration_s > PROBE_LIMITS.wall_s + 1:
        return f"the flood ran {result.duration_s:.1f} s"
    return None


RESOURCE_PROBES = (
    Probe("fork_bomb", "fork without end", _fork_bomb_program, _tasks_check, quick=False,
          limits=PROBE_LIMITS, sample=True),
    Probe("thread_bomb", "start threads without end", _thread_bomb_program, _tasks_check, quick=False,
          limits=PROBE_LIMITS, sample=True),
    Probe("memory_bomb", "allocate 2 GiB, then 6 x 256 MiB in child processes", _memory_bomb_program,
          _memory_check, quick=False, limits=PROBE_LIMITS, sample=True),
    Probe("cpu_loop", "spin on every core forever", _cpu_program, _cpu_check, quick=False,
          limits=_CPU_LIMITS),
    Probe("disk_fill", "write files until the disk is full", _disk_fill_program, _disk_fill_check,
          quick=False, limits=PROBE_LIMITS),
    Probe("fd_exhaustion", "open descriptors until none is left", _fd_program, _fd_check, quick=False,
          limits=PROBE_LIMITS),
    Probe("output_flood", "print 1 GiB", _output_program, _output_check, quick=False, limits=PROBE_LIMITS),
)  # fmt: skip
