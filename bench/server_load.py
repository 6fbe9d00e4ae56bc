"""Ponder's own cost per request, on the zero-cost scripted model, with keys, rate limits, sessions and
memory on.

The server runs on CPU 0 and wrk on CPU 1 (taskset), so each has one core of this 2-core machine. Every chat
request names a session (``X-Ponder-Session``): a conversation of ``--turns`` turns, then the next one, so
each turn resumes a stored history and is stored in it; memory is on (recall, learning), for a user with
nothing stored yet. A first request checks that: its ``usage.ponder.memory`` must name the session and say
that memory ran, or the bench stops.

Printed, side by side: requests/s under load (wrk, 16 connections), and the latency of one request at a time
(wrk, 1 connection: p50/p90/p99), for a chat completion and for /healthz, the floor of the HTTP stack alone;
and the chat's p50 over that floor: the overhead Ponder adds per request (the model itself costs nothing).

    python bench/server_load.py [--seconds 15] [--turns 8] [--source OTHER/src]
    python bench/server_load.py --seconds 2     (a smoke run)

Needs Debian's wrk: apt-get install wrk. ``--source``: run the server from another checkout's src/ (a
before/after comparison on the same machine).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from _common import emit
from _server import Served, serve

BODY = {"model": "ponder-instant", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}

# One wrk thread: the counter is the thread's. Request n is turn n % turns of conversation n // turns.
LUA = """
local n = 0
request = function()
   local headers = {{}}
   headers["Content-Type"] = "application/json"
   headers["Authorization"] = "Bearer {key}"
   headers["X-Ponder-Session"] = "{prefix}" .. math.floor(n / {turns})
   n = n + 1
   return wrk.format("POST", nil, headers, [[{body}]])
end
"""


def wrk(url: str, connections: int, seconds: int, lua: str | None = None) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua or "")
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    out = subprocess.run(
        [*command, "-s", script.name, url], capture_output=True, text=True, check=True
    ).stdout
    Path(script.name).unlink()
    rate = float(_find(r"Requests/sec:\s+([\d.]+)", out))
    latency = {p: _ms(_find(rf"\s{p}%\s+([\d.]+\w+)", out)) for p in ("50", "90", "99")}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests_per_s": rate,
        "p50_ms": latency["50"],
        "p90_ms": latency["90"],
        "p99_ms": latency["99"],
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise SystemExit(f"wrk's output has no {pattern!r}:\n{text}")
    return match.group(1)


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(\w+)", text)
    assert match is not None
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def chat_lua(server: Served, prefix: str, turns: int) -> str:
    return LUA.format(key=server.key, prefix=prefix, turns=turns, body=json.dumps(BODY))


def check_memory(server: Served) -> dict[str, object]:
    """One turn in a session: what memory reported of it. Stops the bench unless sessions and memory ran."""
    response = httpx.post(
        server.url + "/v1/chat/completions",
        json=BODY,
        headers={"Authorization": f"Bearer {server.key}", "X-Ponder-Session": "check"},
        timeout=30,
    )
    response.raise_for_status()
    usage = response.json()["usage"]
    report = usage.get("ponder", {}).get("memory") or usage.get("memory")
    if not report or report.get("session") != "check" or report.get("turn") != 0 or "recall_s" not in report:
        raise SystemExit(f"sessions or memory are not on: usage is {usage}")
    return dict(report)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=15, help="of each measurement (2 for a smoke run)")
    parser.add_argument("--turns", type=int, default=8, help="turns per session before the next one")
    parser.add_argument("--source", type=Path, help="run the server from this src/ directory instead")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with serve("scripted:4", cpu=0, source=args.source) as server:
        chat, healthz = server.url + "/v1/chat/completions", server.url + "/healthz"
        memory = check_memory(server)
        wrk(chat, 4, min(3, args.seconds), chat_lua(server, "warm-", args.turns))  # warm-up
        load = wrk(chat, 16, args.seconds, chat_lua(server, "load-", args.turns))
        floor_load = wrk(healthz, 16, args.seconds)
        single = wrk(chat, 1, args.seconds, chat_lua(server, "one-", args.turns))
        floor = wrk(healthz, 1, args.seconds)
        lines = server.log.read_text().splitlines()
    over = single["p50_ms"] - floor["p50_ms"]
    print(f"{'':34}{'chat completion':>18}{'/healthz':>12}")
    print(f"{'req/s, 16 connections':34}{load['requests_per_s']:>18.0f}{floor_load['requests_per_s']:>12.0f}")
    for p in ("50", "90", "99"):
        row = f"p{p} ms, one at a time"
        print(f"{row:34}{single[f'p{p}_ms']:>18.2f}{floor[f'p{p}_ms']:>12.2f}")
    print(f"chat p50 over the HTTP floor: {over:.2f} ms (sessions of {args.turns} turns, memory on)")
    bad = sum(int(r["non_2xx"]) for r in (load, single, floor_load, floor))
    if bad:
        print(f"WARNING: {bad} responses were not 2xx")
    emit(
        "server_load",
        {
            "load_16_connections": load,
            "one_connection": single,
            "healthz_16_connections": floor_load,
            "healthz_one_connection": floor,
            "p50_over_floor_ms": round(over, 3),
            "turns_per_session": args.turns,
            "memory_check": memory,
            "source": str(args.source) if args.source else "this checkout",
            "log_lines": len(lines),
            "note": "server on CPU 0, wrk on CPU 1; scripted zero-cost model; key auth, GCRA limits, "
            "sessions (X-Ponder-Session) and memory on",
        },
    )


if __name__ == "__main__":
    main()
