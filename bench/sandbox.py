"""Sandbox figures, per tier this machine supports: the escape probes, the limits, and latency.

Escape probes: the positive control and every probe (``ponder.sandbox.probes``), each in a fresh jail
and judged from the host; the count that got out must be 0.

Limits: what the host measured while the resource probes ran: the most tasks the fork and thread
bombs had at once (limit 64), the most memory the memory bomb held (limit 512 MiB), how long a CPU
loop lived with a 1 s wall limit (must be killed within the limit + 1 s), and how much of a 1 GiB
print came back (cap 1 MiB).

Latency, with these definitions:
  cold launch    from asking for a new jail until the result of ``print(1)`` in it is back (jail
                 set-up, interpreter start, the program, its result; not the teardown that follows)
  ready          from asking for a new jail until its interpreter waits for a program
  warm dispatch  from handing ``print(1)`` to a jail that is already started and waiting until its
                 output and exit code are back (what ``Sandbox.run`` costs when the pool has a jail)

The machine's load average is printed with the latencies: on 2 shared cores a busy neighbour moves
them. Results are appended to bench/results/sandbox.jsonl.

    python bench/sandbox.py [--launches 40] [--dispatches 100] [--tier bwrap|landlock]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from _common import emit
from ponder.sandbox import Limits, self_test, tier_status
from ponder.sandbox.jail import TIERS, TierName
from ponder.sandbox.limits import MIB
from ponder.sandbox.worker import Worker

COLD_P50_TARGET_MS = 60.0
WARM_P95_TARGET_MS = 5.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(1000 * statistics.median(values), 2),
        "p95": round(1000 * _percentile(values, 0.95), 2),
        "max": round(1000 * max(values), 2),
    }


async def probes(tier: TierName) -> dict[str, object]:
    report = await self_test(tier)
    print(f"[{tier}] positive control: {'passed' if report.control_passed else 'FAILED'}")
    for probe in report.probes:
        verdict = "ESCAPED" if probe.escaped else "held"
        print(f"[{tier}]   {verdict:<7} {probe.name:<18} {probe.detail[:130]}")
    figures = {p.name: p.figures for p in report.probes}
    limits = {
        "fork_bomb_peak_tasks": figures["fork_bomb"]["peak_tasks"],
        "thread_bomb_peak_tasks": figures["thread_bomb"]["peak_tasks"],
        "memory_bomb_peak_mib": round(figures["memory_bomb"]["peak_memory_bytes"] / MIB, 1),
        "cpu_loop_killed_after_s": round(figures["cpu_loop"]["run_s"], 3),
        "output_flood_returned_bytes": figures["output_flood"]["stdout_bytes"],
    }
    print(f"[{tier}] {len(report.escaped)} of {len(report.probes)} probes escaped; cgroups: {report.cgroups}")
    print(
        f"[{tier}] limits: fork bomb peak {limits['fork_bomb_peak_tasks']:.0f} tasks (limit 64), thread bomb "
        f"peak {limits['thread_bomb_peak_tasks']:.0f}, memory bomb peak {limits['memory_bomb_peak_mib']} MiB "
        f"(limit 512), CPU loop killed after {limits['cpu_loop_killed_after_s']} s (wall 1 s, bound 2 s), "
        f"1 GiB print returned {limits['output_flood_returned_bytes']:.0f} bytes (cap {MIB})"
    )
    return {
        "tier": tier,
        "control_passed": report.control_passed,
        "probes": len(report.probes),
        "escaped": [p.name for p in report.escaped],
        "cgroups": report.cgroups,
        "limits": limits,
    }


async def latency(tier: TierName, launches: int, dispatches: int) -> dict[str, dict[str, float]]:
    limits = Limits()
    cold, ready, warm = [], [], []
    for _ in range(launches):
        started = time.perf_counter()
        worker = await Worker.start(tier, limits)
        up = time.perf_counter()
        result = await worker.run("print(1)")
        done = time.perf_counter()
        await worker.close()
        assert result.stdout == "1\n", result
        cold.append(done - started)
        ready.append(up - started)
    for _ in range(dispatches):
        worker = await Worker.start(tier, limits)
        started = time.perf_counter()
        result = await worker.run("print(1)")
        warm.append(time.perf_counter() - started)
        await worker.close()
        assert result.stdout == "1\n", result
    return {"cold_launch_ms": _ms(cold), "ready_ms": _ms(ready), "warm_dispatch_ms": _ms(warm)}


async def main(tiers: tuple[TierName, ...], launches: int, dispatches: int) -> None:
    for tier in tiers:
        status = await tier_status(tier)
        if not status.available:
            print(f"[{tier}] unavailable: {status.reason}")
            emit("sandbox", {"tier": tier, "available": False, "reason": status.reason})
            continue
        row: dict[str, object] = {"available": True, **await probes(tier)}
        load_before = os.getloadavg()[0]
        timing = await latency(tier, launches, dispatches)
        load_after = os.getloadavg()[0]
        cold, ready, warm = timing["cold_launch_ms"], timing["ready_ms"], timing["warm_dispatch_ms"]
        cold_met = "met" if cold["p50"] <= COLD_P50_TARGET_MS else "NOT met"
        warm_met = "met" if warm["p95"] <= WARM_P95_TARGET_MS else "NOT met"
        print(
            f"[{tier}] cold launch p50 {cold['p50']} ms p95 {cold['p95']} ms "
            f"(target p50 <= {COLD_P50_TARGET_MS}: {cold_met}); ready p50 {ready['p50']} ms; "
            f"warm dispatch p50 {warm['p50']} ms p95 {warm['p95']} ms max {warm['max']} ms "
            f"(target p95 <= {WARM_P95_TARGET_MS}: {warm_met}); "
            f"load average {load_before:.2f} -> {load_after:.2f} on {os.cpu_count()} CPUs"
        )
        row.update(timing, launches=launches, dispatches=dispatches, loadavg=[load_before, load_after])
        emit("sandbox", row)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--launches", type=int, default=40)
    parser.add_argument("--dispatches", type=int, default=100)
    parser.add_argument("--tier", choices=TIERS, default=None)
    args = parser.parse_args()
    asyncio.run(main((args.tier,) if args.tier else TIERS, args.launches, args.dispatches))
