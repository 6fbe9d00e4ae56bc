"""Ponder's own cost per request, on the zero-cost scripted model, with keys and rate limits on.

The server runs on CPU 0 and wrk on CPU 1 (taskset), so each has one core of this 2-core machine.
Printed: non-streaming requests/s under load (wrk, 16 connections), and the latency of one request at a
time (wrk, 1 connection: p50/p90/p99), for a chat completion and, as the floor of the HTTP stack alone,
for /healthz. The chat completion's p50 at one connection is the overhead Ponder adds per request (the
model itself costs nothing), plus the loopback round trip.

    python bench/server_load.py [--seconds 15]   (needs Debian's wrk: apt-get install wrk)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from _common import emit
from _server import serve

BODY = {"model": "ponder-instant", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}

LUA = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
"""


def wrk(url: str, key: str | None, connections: int, seconds: int, post: bool) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA.format(body=json.dumps(BODY), key=key) if post else "")
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    out = subprocess.run(
        [*command, "-s", script.name, url], capture_output=True, text=True, check=True
    ).stdout
    Path(script.name).unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "90", "99")}
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


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with serve("scripted:4", cpu=0) as server:
        chat = server.url + "/v1/chat/completions"
        wrk(chat, server.key, 4, 3, post=True)  # warm-up
        load = wrk(chat, server.key, 16, args.seconds, post=True)
        single = wrk(chat, server.key, 1, args.seconds, post=True)
        floor = wrk(server.url + "/healthz", None, 1, args.seconds, post=False)
        lines = server.log.read_text().splitlines()
    print(f"non-streaming chat completions under load (16 connections): {load['requests_per_s']:.0f} req/s")
    print(
        f"one at a time: p50 {single['p50_ms']:.2f} ms, p90 {single['p90_ms']:.2f} ms, "
        f"p99 {single['p99_ms']:.2f} ms"
    )
    print(f"/healthz one at a time (HTTP stack floor): p50 {floor['p50_ms']:.2f} ms")
    emit(
        "server_load",
        {
            "load_16_connections": load,
            "one_connection": single,
            "healthz_one_connection": floor,
            "log_lines": len(lines),
            "note": "server on CPU 0, wrk on CPU 1; scripted zero-cost model; key auth and GCRA limits on",
        },
    )


if __name__ == "__main__":
    main()
