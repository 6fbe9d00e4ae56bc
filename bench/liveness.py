"""Liveness under the heaviest accepted requests: the latency of ``/healthz`` and of a small chat turn from
another account on a real ``ponder serve`` (scripted model), while clients in other processes send the
largest requests the caps admit, each stored in a fresh session (a long session write).

    python bench/liveness.py [--seconds 20] [--heavy 4] [--compare /path/to/other/src] [--postgres URL]

The heavy request: ``max_messages`` messages holding ``max_request_chars`` of text with ``max_tools`` tools.
``--compare`` runs the same load first against Ponder from another src/ directory (say the main checkout,
before the change), then against this one. ``--postgres``: on a fresh schema of that PostgreSQL server
instead of a SQLite file. Target: p99 under 50 ms for both probes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from _common import emit, scratch_database
from _server import serve
from ponder.config import ServerConfig

SMALL = {"model": "ponder-instant", "messages": [{"role": "user", "content": "hi"}]}
SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "What to look for, in the user's words."},
        "limit": {"type": "integer", "description": "How many results at most."},
    },
    "required": ["query"],
}


def heaviest(caps: ServerConfig) -> bytes:
    """The largest request the default caps admit: every message, tool and character it allows."""
    tools = [
        {
            "type": "function",
            "function": {"name": f"tool_{i}", "description": "A tool.", "parameters": SCHEMA},
        }
        for i in range(caps.max_tools)
    ]
    tool_chars = sum(len(t["function"]["name"]) + 7 + len(json.dumps(SCHEMA)) for t in tools)  # type: ignore[index]
    per_message = (caps.max_request_chars - tool_chars) // caps.max_messages - 1
    words = ("lorem ipsum dolor sit amet, " * (per_message // 28 + 1))[:per_message]
    messages = [
        {"role": "user" if (caps.max_messages - i) % 2 == 1 else "assistant", "content": words}
        for i in range(caps.max_messages)
    ]
    return json.dumps({"model": "ponder-instant", "messages": messages, "tools": tools}).encode()


def send_heavy(url: str, key: str, body: bytes, stop: Any, counts: Any) -> None:
    """One heavy client (its own process): the heaviest request, in a new session each time, until stopped."""
    with httpx.Client(timeout=120) as client:
        while not stop.is_set():
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            headers["X-Ponder-Session"] = "s" + uuid.uuid4().hex[:12]
            r = client.post(url + "/v1/chat/completions", content=body, headers=headers)
            with counts.get_lock():
                counts[0 if r.status_code == 200 else 1] += 1


def probe(send: Any, stop: threading.Event, out: list[float], failures: list[int]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        status = send()
        out.append(time.perf_counter() - started)
        if status != 200:
            failures.append(status)
        stop.wait(0.01)


def run(seconds: float, heavy: int, source: Path | None, postgres: str | None) -> dict[str, Any]:
    caps = ServerConfig()
    body = heaviest(caps)
    with (
        scratch_database(postgres, Path("unused"), "liveness") as (target, backend),
        serve(
            "scripted:ok",
            concurrency=64,
            log_level="warning",
            accounts=["other"],
            source=source,
            database_url=target if backend == "postgresql" else None,
        ) as s,
    ):
        stop, counts = multiprocessing.Event(), multiprocessing.Array("i", 2)
        senders = [
            multiprocessing.Process(target=send_heavy, args=(s.url, s.key, body, stop, counts))
            for _ in range(heavy)
        ]
        for p in senders:
            p.start()
        time.sleep(2)  # the heavy clients are sending
        health: list[float] = []
        chat: list[float] = []
        failures: list[int] = []
        stop_probes = threading.Event()
        with httpx.Client(timeout=60) as a, httpx.Client(timeout=60) as b:
            auth = {"Authorization": f"Bearer {s.others['other']}"}
            probes = [
                threading.Thread(
                    target=probe,
                    args=(lambda: a.get(s.url + "/healthz").status_code, stop_probes, health, failures),
                ),
                threading.Thread(
                    target=probe,
                    args=(
                        lambda: b.post(s.url + "/v1/chat/completions", json=SMALL, headers=auth).status_code,
                        stop_probes,
                        chat,
                        failures,
                    ),
                ),
            ]
            for t in probes:
                t.start()
            time.sleep(seconds)
            stop_probes.set()
            for t in probes:
                t.join()
        stop.set()
        for p in senders:
            p.join(180)
    return {
        "source": str(source) if source else "this checkout",
        "database": backend,
        "heavy_clients": heavy,
        "heavy_body_mib": round(len(body) / 2**20, 2),
        "heavy_answered": counts[0],
        "heavy_refused": counts[1],
        "healthz": figures(health),
        "small_chat": figures(chat),
        "probe_failures": sorted(set(failures)),
    }


def figures(latencies: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in latencies)
    if not ms:
        return {"n": 0}
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(ms[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the probes run under load")
    parser.add_argument("--heavy", type=int, default=4, help="heavy clients sending at once")
    parser.add_argument("--compare", type=Path, help="another src/ directory to measure first (before)")
    parser.add_argument("--postgres", help="a PostgreSQL server's URL (default: a SQLite file)")
    args = parser.parse_args()
    sources = [args.compare, None] if args.compare else [None]
    for source in sources:
        result = run(args.seconds, args.heavy, source, args.postgres)
        h, c = result["healthz"], result["small_chat"]
        print(
            f"{result['source']} on {result['database']}: {args.heavy} heavy clients "
            f"({result['heavy_body_mib']} MiB each, "
            f"{result['heavy_answered']} answered, {result['heavy_refused']} refused); "
            f"/healthz p50 {h.get('p50_ms')} ms p99 {h.get('p99_ms')} ms max {h.get('max_ms')} ms "
            f"(n={h['n']}); "
            f"small chat p50 {c.get('p50_ms')} ms p99 {c.get('p99_ms')} ms max {c.get('max_ms')} ms "
            f"(n={c['n']}); probe failures {result['probe_failures']}",
            file=sys.stderr,
        )
        emit("liveness", result)


if __name__ == "__main__":
    main()
