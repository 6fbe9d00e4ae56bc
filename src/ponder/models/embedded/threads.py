"""Pick how many threads llama.cpp should use, from how busy the other cores are right now.

CPU decoding is bound by memory bandwidth, and a llama.cpp thread that shares its core with another busy
process stalls the others at every barrier: on a 2-core machine with one core taken, one thread decodes
more steadily than two. So before each generation we look at how much CPU *other* processes used since the
last look (``/proc/stat`` busy time minus our own process's CPU time) and give llama.cpp the idle cores.

Linux only; elsewhere (no ``/proc/stat``) it returns the usable core count.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass

__all__ = ["ThreadAdvisor", "usable_cores"]

_SAMPLE_EVERY_S = 0.25  # a background thread reads /proc/stat this often (about 20 µs a read)
_WINDOW = 4  # readings kept: the advice looks at the last second


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class _Reading:
    at: float  # monotonic seconds
    busy_s: float  # CPU seconds all processes spent busy, machine-wide
    own_s: float  # CPU seconds this process spent


def _read() -> _Reading | None:
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    # cpu user nice system idle iowait irq softirq steal ...
    values = [int(v) for v in fields[1:9]]
    busy = values[0] + values[1] + values[2] + values[5] + values[6] + values[7]
    times = os.times()
    return _Reading(time.monotonic(), busy / ticks, times.user + times.system)


class ThreadAdvisor:
    """Advises a thread count per generation; ``fixed`` pins it (config ``threads``).

    A daemon thread keeps the last second of readings, so asking costs no waiting.
    """

    def __init__(self, fixed: int | None = None, max_threads: int | None = None) -> None:
        self.fixed = fixed
        self.max_threads = max_threads or usable_cores()
        self._readings: deque[_Reading] = deque(maxlen=_WINDOW)
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()

    def _sample_forever(self) -> None:
        while not self._stop.wait(_SAMPLE_EVERY_S):
            reading = _read()
            if reading is not None:
                self._readings.append(reading)

    def _ensure_sampler(self) -> None:
        if self._sampler is None:
            first = _read()
            if first is not None:
                self._readings.append(first)
            self._sampler = threading.Thread(target=self._sample_forever, name="ponder-cpu", daemon=True)
            self._sampler.start()

    def close(self) -> None:
        self._stop.set()

    def idle_cores(self) -> float:
        """Cores that other processes left idle over about the last second."""
        self._ensure_sampler()
        now = _read()
        if now is None or not self._readings:
            return float(self.max_threads)
        last = self._readings[0]
        elapsed = now.at - last.at
        if elapsed < 0.02:  # just started: no window yet, assume the machine is ours
            return float(self.max_threads)
        others_busy = max(0.0, (now.busy_s - last.busy_s) - (now.own_s - last.own_s)) / elapsed
        return max(0.0, usable_cores() - others_busy)

    def threads(self) -> int:
        if self.fixed is not None:
            return self.fixed
        return max(1, min(self.max_threads, round(self.idle_cores())))
