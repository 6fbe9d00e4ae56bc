"""Issue 23's figures: Ponder replicas working as one, on PostgreSQL, Redis and a fake engine.

    python bench/replicas.py                       # throughput at 1, 2, 4 replicas; kill -9 trials
    python bench/replicas.py --ray                 # and the same 4 replicas as a Ray Serve application
    python bench/replicas.py --seconds 5 --kill-trials 1     (a smoke run)

The harness is ponder.testing.cluster: ``ponder serve`` processes sharing one PostgreSQL schema (from
POSTGRES_TEST_URL, or --url), one redis-server and the fake OpenAI-compatible engine, behind the round-robin
proxy (ponder.testing.proxy).

**Throughput.** Each replica has ``--slots`` turn slots; the engine writes ``--tokens`` words at
``--delay`` seconds each, so a replica is bound by its slots (a turn waits on the engine) while it uses a
small share of a core. ``--slots`` closed-loop clients per replica send turns through the proxy (each turn
a new question in the client's session: sessions and memory recall on); a turn refused for want of a slot
(503) is retried and counted. Printed per replica count: turns per second, p50 latency, refusals, and the
CPU used (percent of one core) by the replicas (their mean and their sum), the proxy and the engine, read
from /proc; the ratio to one replica is beside them. With ``--ray``, the same 4 replicas run as the Ray
Serve application (``ponder.deploy.ray:build_app``) on a local Ray cluster, reached through Ray's own HTTP
proxy; it needs a Python with ``ray[serve]`` (bench/_ray.py: ``--make-ray-venv`` builds one).

**kill -9.** For each trial a fresh replica joins, clients send turns that state a fact (each queues a
learning job), and the new replica is killed -9 mid-load. Counted: turns acknowledged (200), acknowledged
turns missing from their stored session (must be 0), and learning jobs not done 60 s later (must be 0).

Appends a JSON line to bench/results/replicas.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from _common import emit, scratch_database
from ponder.testing.cluster import (
    Cluster,
    EngineClient,
    Process,
    cpu_seconds,
    fake_engine,
    jobs_waiting,
    redis_server,
    round_robin,
)
from ponder.testing.load import Load, drive

BURST_LIMIT = 12  # requests per minute of the "burst" tier
LEARN = {
    "match": "long-term memory",
    "text": '{"topic": "likes", "slot": "colour", "fact": "The user likes bright colours."}]',
}


def cpu_share(pids: Sequence[int], run: Callable[[], Load]) -> tuple[Load, list[float]]:
    """``run()``, and each process's CPU use during it, in percent of one core."""
    before = [cpu_seconds(p) for p in pids]
    started = time.monotonic()
    load = run()
    wall = time.monotonic() - started
    return load, [100 * (cpu_seconds(p) - b) / wall for p, b in zip(pids, before, strict=True)]


def throughput(
    cluster: Cluster,
    engine: EngineClient,
    key: str,
    counts: Sequence[int],
    args: argparse.Namespace,
    home: Path,
) -> list[dict[str, Any]]:
    rows = []
    question: Callable[[int, int], str] = lambda n, t: f"What is {n} plus {t}?"  # noqa: E731
    for count in counts:
        replicas = cluster.replicas[:count]
        with round_robin(home, [r.url for r in replicas]) as proxy:
            clients = args.slots * count
            asyncio.run(drive(proxy.url, key, clients=clients, seconds=2.0, text=question))  # warm
            pids = [*(r.pid for r in replicas), proxy.pid, engine.process.pid]
            run = functools.partial(
                drive, proxy.url, key, clients=clients, seconds=args.seconds, text=question
            )
            load, cpu = cpu_share(pids, lambda run=run: asyncio.run(run()))
        rows.append(
            _row(f"{count} process{'es' if count > 1 else ''}", count, load, cpu[:count], cpu[-2], cpu[-1])
        )
    return rows


def _row(
    name: str, count: int, load: Load, replicas: list[float], proxy: float, engine: float
) -> dict[str, Any]:
    return {
        "run": name,
        "replicas": count,
        "turns_per_s": round(load.rate, 2),
        "p50_ms": round(1000 * statistics.median(load.latencies)) if load.latencies else None,
        "refused_503": load.codes[503],
        "other_errors": sum(v for k, v in load.codes.items() if k not in (200, 503)),
        "cpu_replica_mean_pct": round(statistics.mean(replicas), 1) if replicas else None,
        "cpu_replicas_sum_pct": round(sum(replicas), 1),
        "cpu_proxy_pct": round(proxy, 1),
        "cpu_engine_pct": round(engine, 1),
    }


def properties_through(
    url: str, engine: EngineClient, key: str, burst_key: str, speed: tuple[float, int]
) -> dict[str, Any]:
    """Two of the tests' properties through ``url`` (Ray's proxy, which picks the replica): a 10-turn
    session kept whole, and a burst of twice the "burst" tier's limit accepted exactly up to it."""
    engine.set_speed(0.0)
    engine.forget()
    session, headers = f"ray-{uuid.uuid4().hex[:8]}", {"Authorization": f"Bearer {key}"}
    for turn in range(10):
        body = {
            "model": "ponder-instant",
            "user": "bench",
            "messages": [{"role": "user", "content": f"Q{turn}?"}],
        }
        sent = httpx.post(
            url + "/v1/chat/completions",
            json=body,
            headers=headers | {"X-Ponder-Session": session},
            timeout=60,
        )
        sent.raise_for_status()
    stored = httpx.get(f"{url}/v1/sessions/{session}", params={"user": "bench"}, headers=headers, timeout=30)
    last = engine.requests()[-1]["body"]["messages"]

    async def burst() -> Counter[int]:
        body = {"model": "ponder-instant", "messages": [{"role": "user", "content": "Hi?"}]}
        async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {burst_key}"}) as http:
            answers = await asyncio.gather(
                *(http.post(url + "/v1/chat/completions", json=body) for _ in range(2 * BURST_LIMIT))
            )
        return Counter(a.status_code for a in answers)

    codes = asyncio.run(burst())
    engine.set_speed(*speed)
    return {
        "session_messages_stored": len(stored.json()["messages"]),
        "engine_saw_every_question": all(any(m["content"] == f"Q{t}?" for m in last) for t in range(10)),
        "burst_limit": BURST_LIMIT,
        "burst_codes": dict(codes),
    }


def ray_run(
    config: Path, engine: EngineClient, key: str, burst_key: str, args: argparse.Namespace, home: Path
) -> dict[str, Any]:
    from _ray import ray_cpu_seconds, ray_serve

    question: Callable[[int, int], str] = lambda n, t: f"What is {n} plus {t}?"  # noqa: E731
    count = 4
    with ray_serve(
        home / "ray", config, replicas=count, num_cpus=0.25, max_ongoing_requests=args.slots
    ) as url:
        checks = properties_through(url, engine, key, burst_key, (args.delay, args.tokens))
        clients = args.slots * count
        asyncio.run(drive(url, key, clients=clients, seconds=2.0, text=question))  # warm
        ray_before, engine_before, started = (
            ray_cpu_seconds(),
            cpu_seconds(engine.process.pid),
            time.monotonic(),
        )
        load = asyncio.run(drive(url, key, clients=clients, seconds=args.seconds, text=question))
        wall = time.monotonic() - started
        ray_cpu = 100 * (ray_cpu_seconds() - ray_before) / wall
        engine_cpu = 100 * (cpu_seconds(engine.process.pid) - engine_before) / wall
    row = _row("4 Ray Serve replicas", count, load, [], 0.0, engine_cpu)
    row["cpu_ray_all_pct"] = round(ray_cpu, 1)  # replicas, Ray's proxy, controller, raylet, GCS together
    row["checks"] = checks
    return row


def kill_trials(
    cluster: Cluster, engine: EngineClient, key: str, trials: int, home: Path, database_url: str
) -> list[dict[str, Any]]:
    engine.set_rules([LEARN])
    rows = []
    for trial in range(trials):
        [victim] = cluster.start(1)
        kill_after = random.uniform(1.0, 3.0)

        async def killer(victim: Process = victim, after: float = kill_after) -> None:
            await asyncio.sleep(after)
            await asyncio.to_thread(victim.kill)

        statement: Callable[[int, int], str] = lambda n, t: f"I like the colour number {n}-{t}."  # noqa: E731
        live = [r for r in cluster.replicas if r.alive()]
        with round_robin(home, [r.url for r in live]) as proxy:
            load = asyncio.run(
                drive(proxy.url, key, clients=8, seconds=5.0, text=statement, user="kim", during=killer)
            )
        survivor = next(r for r in cluster.replicas if r.alive())
        missing = 0
        for session, texts in load.acknowledged.items():
            stored = httpx.get(
                f"{survivor.url}/v1/sessions/{session}",
                params={"user": "kim"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            ).json()
            kept = {m["content"] for m in stored.get("messages", []) if m["role"] == "user"}
            missing += sum(1 for t in texts if t not in kept)
        deadline = time.monotonic() + 60
        while (waiting := jobs_waiting(database_url, "memory.learn")) and time.monotonic() < deadline:
            time.sleep(0.5)
        rows.append(
            {
                "trial": trial,
                "killed_after_s": round(kill_after, 2),
                "acknowledged": len(load.latencies),
                "cut_or_refused": sum(v for k, v in load.codes.items() if k != 200),
                "acknowledged_missing": missing,
                "learning_jobs_left_after_60s": waiting,
            }
        )
        cluster.replicas.remove(victim)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("POSTGRES_TEST_URL"), help="PostgreSQL server")
    parser.add_argument("--seconds", type=float, default=20.0, help="each throughput run")
    parser.add_argument("--slots", type=int, default=4, help="turn slots per replica")
    parser.add_argument("--delay", type=float, default=0.05, help="engine seconds per token")
    parser.add_argument("--tokens", type=int, default=32, help="words per engine reply")
    parser.add_argument("--kill-trials", type=int, default=5)
    parser.add_argument("--ray", action="store_true", help="also run the 4 replicas on Ray Serve")
    args = parser.parse_args()
    if not args.url:
        raise SystemExit("needs PostgreSQL: --url or POSTGRES_TEST_URL (bash scripts/postgres.sh starts one)")
    with tempfile.TemporaryDirectory(prefix="ponder-replicas-") as tmp:
        home = Path(tmp)
        with (
            scratch_database(args.url, home / "unused.db", prefix="replicas") as (database_url, _),
            redis_server(home / "redis") as redis,
            fake_engine(home / "engine") as engine,
        ):
            engine.set_speed(args.delay, args.tokens)
            cluster = Cluster(
                home / "cluster",
                database_url,
                redis,
                engine.spec,
                slots=args.slots,
                tiers={"big": 100_000_000, "burst": BURST_LIMIT},
                config_extra=f'[commerce]\npayment_provider = "test:{home / "ledger.db"}"\n',
                env={"PONDER_SERVER__JOB_LEASE_S": "2"},
            )
            with cluster:
                key, burst_key = cluster.key("bench"), cluster.key("bench", "burst")
                cluster.start(4)
                rows = throughput(cluster, engine, key, (1, 2, 4), args, home)
                if args.ray:
                    cluster.stop()  # the plain processes leave the cores to Ray's replicas
                    cluster.replicas.clear()
                    rows.append(ray_run(cluster.config, engine, key, burst_key, args, home))
                    cluster.start(2)
                kills = kill_trials(cluster, engine, key, args.kill_trials, home, database_url)
    report(rows, kills, args)
    return 0


def report(rows: list[dict[str, Any]], kills: list[dict[str, Any]], args: argparse.Namespace) -> None:
    one = rows[0]["turns_per_s"]
    four = next(r["turns_per_s"] for r in rows if r["run"] == "4 processes")
    print(
        f"\n{args.slots} slots per replica; engine {args.tokens} tokens x {args.delay * 1000:.0f} ms; "
        f"{args.seconds:.0f} s per run; cores: {os.cpu_count()}"
    )
    print(
        f"{'run':<22} {'turns/s':>8} {'x 1':>6} {'p50 ms':>7} {'503s':>5} {'CPU/replica %':>14} "
        f"{'replicas %':>11} {'proxy %':>8} {'engine %':>9}"
    )
    for r in rows:
        mean = "-" if r["cpu_replica_mean_pct"] is None else f"{r['cpu_replica_mean_pct']:.1f}"
        print(
            f"{r['run']:<22} {r['turns_per_s']:>8.2f} {r['turns_per_s'] / one:>6.2f} {r['p50_ms']!s:>7} "
            f"{r['refused_503']:>5} {mean:>14} {r['cpu_replicas_sum_pct']:>11.1f} {r['cpu_proxy_pct']:>8.1f} "
            f"{r['cpu_engine_pct']:>9.1f}"
            + (f"  (all of Ray: {r['cpu_ray_all_pct']:.1f}%)" if "cpu_ray_all_pct" in r else "")
        )
    ray = next((r for r in rows if "cpu_ray_all_pct" in r), None)
    if ray is not None:
        print(f"Ray Serve / plain processes at 4 replicas: {ray['turns_per_s'] / four:.2f}")
        checks = ray["checks"]
        print(
            f"through Ray's proxy: a 10-turn session stored {checks['session_messages_stored']} messages "
            f"(the engine saw every question: {checks['engine_saw_every_question']}); a burst of "
            f"{2 * BURST_LIMIT} at a limit of {BURST_LIMIT}: {checks['burst_codes']}"
        )
    print(f"\nkill -9 of one replica under load ({len(kills)} trials):")
    for k in kills:
        print(
            f"  trial {k['trial']}: killed at {k['killed_after_s']} s; {k['acknowledged']} turns answered, "
            f"{k['acknowledged_missing']} of them missing; {k['cut_or_refused']} cut or refused; "
            f"{k['learning_jobs_left_after_60s']} learning jobs left"
        )
    emit("replicas", {"args": vars(args), "throughput": rows, "kill": kills})


if __name__ == "__main__":
    raise SystemExit(main())
