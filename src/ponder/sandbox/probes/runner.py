"""Runs one escape probe in a fresh jail and reaches the host's verdict.

The runner starts a worker (with a canary in the launching process's environment, to show that the
jail does not inherit it), runs the probe's program, and as soon as the program holds, snapshots
every process of the jail and measures its writable place; it then kills the jail, closes it, and
looks for processes of the jail's uid that outlived it. The verdict is the probe's own check plus,
for programs that held, the jail invariants. Nothing here reads the program's output as evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator

from .. import procs
from ..jail import TierName
from ..limits import MIB, Limits
from ..worker import Worker
from .base import HOLD, PRELUDE, Observation, Probe, ProbeResult, ProcessView
from .host import CANARY_VARIABLE, ProbeHost, sample, snapshot, writable_used
from .invariants import violations

__all__ = ["QUICK_LIMITS", "run_probe"]

QUICK_LIMITS = Limits(wall_s=5.0)


@contextlib.contextmanager
def _canary_in_environment(canary: str) -> Iterator[None]:
    previous = os.environ.get(CANARY_VARIABLE)
    os.environ[CANARY_VARIABLE] = canary
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CANARY_VARIABLE, None)
        else:
            os.environ[CANARY_VARIABLE] = previous


async def _observe(worker: Worker, probe: Probe, host: ProbeHost) -> Observation:
    held = worker.stdout_event(HOLD)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(worker, stop)) if probe.sample else None
    run = asyncio.create_task(worker.run(PRELUDE + probe.program(host)))
    holding = asyncio.create_task(held.wait())
    await asyncio.wait((run, holding), return_when=asyncio.FIRST_COMPLETED)
    processes: list[ProcessView] = []
    used = None
    if held.is_set():
        processes = await asyncio.to_thread(snapshot, worker)
        used = await asyncio.to_thread(writable_used, worker)
        worker.kill()
    holding.cancel()
    result = await run
    if used is None:
        used = await asyncio.to_thread(writable_used, worker)
    stop.set()
    peak_tasks, peak_pss = await sampler if sampler else (0, 0)
    cgroup = worker.jail.cgroup
    peak_memory = cgroup.memory_peak() if cgroup and "memory" in cgroup.dirs else (peak_pss or None)
    return Observation(
        worker.tier, worker.uid, result, held.is_set(), processes, peak_tasks, peak_memory, used
    )


def _contained(probe: Probe, observation: Observation) -> str:
    """A short account of what the program tried and what the host measured."""
    parts = []
    for name, outcome in list(observation.report().items())[:3]:
        parts.append(f"{name}: {str(outcome)[:60]}")
    if probe.sample:
        parts.append(f"peak {observation.peak_tasks} tasks")
        if observation.peak_memory:
            parts.append(f"peak {observation.peak_memory / MIB:.0f} MiB")
    if observation.writable_used:
        parts.append(f"writable place holds {observation.writable_used / MIB:.1f} MiB")
    result = observation.result
    if result.killed_reason:
        parts.append(f"killed ({result.killed_reason}) after {result.duration_s:.2f} s")
    if result.output_truncated:
        parts.append(f"output capped at {len(result.stdout.encode())} bytes")
    return "; ".join(parts)


async def run_probe(probe: Probe, tier: TierName, host: ProbeHost) -> ProbeResult:
    started = time.perf_counter()
    with _canary_in_environment(host.canary):
        worker = await Worker.start(tier, probe.limits or QUICK_LIMITS)
    try:
        observation = await _observe(worker, probe, host)
    finally:
        await worker.close()
    observation.survivors = procs.pids_of_uid(worker.uid)
    problems = []
    verdict = probe.check(host, observation)
    if verdict:
        problems.append(verdict)
    if observation.held:
        problems += violations(observation)
    if observation.survivors:
        problems.append(f"processes {observation.survivors} outlived the jail")
    detail = "; ".join(problems) if problems else _contained(probe, observation)
    figures = {
        "peak_tasks": float(observation.peak_tasks),
        "peak_memory_bytes": float(observation.peak_memory or 0),
        "writable_bytes": float(observation.writable_used or 0),
        "run_s": observation.result.duration_s,
        "stdout_bytes": float(len(observation.result.stdout.encode())),
    }
    return ProbeResult(probe.name, bool(problems), detail, time.perf_counter() - started, figures)
