"""SIGTERM with requests in flight: every one of them completes.

``ponder serve`` answers on a slow scripted model (a word every 0.1 s, about 2 s an answer). Twenty requests
are started, half of them streaming; once the server reports all twenty turns running, it gets SIGTERM.
Counted: requests that completed whole (a 200 with the full answer; a stream that ends with [DONE]), that a
new connection is refused once the server is draining, and the server's exit code.

    python bench/server_shutdown.py [--requests 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import time

import httpx

from _common import emit
from _server import serve

WORDS = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
ANSWER = WORDS


async def one(client: httpx.AsyncClient, url: str, key: str, stream: bool) -> bool:
    body = {"model": "ponder-instant", "messages": [{"role": "user", "content": "count"}], "stream": stream}
    headers = {"Authorization": f"Bearer {key}"}
    try:
        if not stream:
            r = await client.post(url, json=body, headers=headers)
            return r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == ANSWER
        text, done = "", False
        async with client.stream("POST", url, json=body, headers=headers) as r:
            async for line in r.aiter_lines():
                if line == "data: [DONE]":
                    done = True
                elif line.startswith("data: "):
                    chunk = json.loads(line[6:])
                    if chunk.get("choices"):
                        text += chunk["choices"][0]["delta"].get("content") or ""
        return done and text == ANSWER
    except httpx.HTTPError:
        return False


async def run(requests: int) -> dict[str, object]:
    with serve(f"scripted:{WORDS}?delay_s=0.1", concurrency=requests + 4) as server:
        url = server.url + "/v1/chat/completions"
        async with httpx.AsyncClient(timeout=60) as client:
            tasks = [
                asyncio.create_task(one(client, url, server.key, stream=i % 2 == 0)) for i in range(requests)
            ]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                metrics = (await client.get(server.url + "/metrics")).text
                match = re.search(r"^ponder_turns_in_flight (\S+)", metrics, re.M)
                if match and float(match.group(1)) >= requests:
                    break
                await asyncio.sleep(0.02)
            in_flight = float(match.group(1)) if match else 0.0
            server.process.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            await asyncio.sleep(0.3)
            try:
                async with httpx.AsyncClient(timeout=2) as late:
                    await late.get(server.url + "/healthz")
                refused_new = False
            except httpx.TransportError:
                refused_new = True
            results = await asyncio.gather(*tasks)
            code = await asyncio.to_thread(server.process.wait, 60)
            drained_s = time.monotonic() - sent
    return {
        "requests": requests,
        "in_flight_at_sigterm": int(in_flight),
        "completed": sum(results),
        "streaming_completed": sum(r for i, r in enumerate(results) if i % 2 == 0),
        "new_connection_refused": refused_new,
        "exit_code": code,
        "drain_s": round(drained_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    result = asyncio.run(run(args.requests))
    print(
        f"SIGTERM, {result['in_flight_at_sigterm']} in flight: {result['completed']}/{result['requests']} "
        f"completed ({result['streaming_completed']} streaming); new connections refused: "
        f"{result['new_connection_refused']}; exit code {result['exit_code']} after {result['drain_s']} s"
    )
    emit("server_shutdown", result)


if __name__ == "__main__":
    main()
