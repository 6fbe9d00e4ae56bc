"""Messaging channels under load and under kill -9 (issue 22): a real ``ponder serve`` with a WhatsApp channel
whose Graph API is a loopback fake (ponder.testing.platforms) recording every reply.

    python bench/channels.py                       # 100 senders at once, then 20 kill -9 trials
    python bench/channels.py --senders 50 --trials 30

1. **Load.** The demo store is loaded, the server started with the scripted model answering a word at a
   time (``delay_s``: the model works while webhooks arrive). 100 messages from 100 senders are POSTed at
   once, signed as Meta signs them; printed: the acknowledgement's p50 / p99 / max (the webhook's 200), the
   replies (exactly one per message is right), the time until the last one, and then the same 100 messages
   delivered again (a redelivery must add no reply).
2. **kill -9.** Each trial sends 10 messages from 10 new senders, waits until every one is acknowledged,
   then a random 0-1.5 s, kills the server with SIGKILL (mid-turn, mid-send or idle), restarts it on the
   same database and waits for the replies. Printed per run: messages with no reply (must be 0), messages
   with more than one (duplicates: only a send the platform took just before the kill and before its row
   said so), and the sends the outbox itself counted as begun again after dying in that window
   (``channel_outbox.uncertain``): duplicates must not exceed it.

A JSON line goes to bench/results/channels.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from _server import free_port
from ponder.store import open_database
from ponder.store.database import sql
from ponder.testing.platforms import FakeGraphAPI, whatsapp_signature

NUMBER, TOKEN, SECRET, VERIFY = "106540352242922", "graph-token", "bench-app-secret", "bench-verify"
RESULTS = Path(__file__).parent / "results" / "channels.jsonl"


class Server:
    """``ponder serve`` in its own home, started, killed and started again on the same database."""

    def __init__(self, home: Path, graph: FakeGraphAPI, model: str) -> None:
        self.home, self.port = home, free_port()
        (home / "config.toml").write_text(
            f'model = "{model}"\nprograms = false\n'
            "[server]\nwarm = false\nchannel_lease_s = 2.0\nchannel_workers = 4\n"
            "[[channels]]\n"
            'name = "wa"\nplatform = "whatsapp"\naccount = "local"\n'
            f'base_url = "{graph.base_url}/v21.0"\nphone_number_id = "{NUMBER}"\n'
            'token_env = "BENCH_WA_TOKEN"\napp_secret_env = "BENCH_WA_SECRET"\n'
            'verify_token_env = "BENCH_WA_VERIFY"\n'
        )
        self.env = {
            **os.environ,
            "PONDER_CONFIG": str(home / "config.toml"),
            "XDG_DATA_HOME": str(home / "data"),
            "BENCH_WA_TOKEN": TOKEN,
            "BENCH_WA_SECRET": SECRET,
            "BENCH_WA_VERIFY": VERIFY,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> str:
        return str(self.home / "data" / "ponder" / "ponder.db")

    def load_demo_store(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "ponder", "shop", "load", "--demo"],
            env=self.env,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        log = (self.home / "server.log").open("ab")
        command = [
            sys.executable,
            "-m",
            "ponder",
            "serve",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(
                    f"ponder serve did not start:\n{(self.home / 'server.log').read_text()[-3000:]}"
                )
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    def uncertain(self) -> int:
        db = open_database(self.database)
        try:
            with db.reading() as conn:
                return int(
                    conn.execute(sql("SELECT COALESCE(SUM(uncertain), 0) FROM channel_outbox")).scalar_one()
                )
        finally:
            db.close()


def body(sender: str, message_id: str, text: str) -> bytes:
    message = {
        "from": sender,
        "id": message_id,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": NUMBER},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": sender}],
        "messages": [message],
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(envelope).encode()


async def deliver_all(url: str, messages: list[tuple[str, str]]) -> list[float]:
    """POST every (sender, message id) at once, signed; the seconds each took to be acknowledged."""

    async def one(client: httpx.AsyncClient, sender: str, message_id: str) -> float:
        raw = body(sender, message_id, "Hello, do you have linen shirts?")
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": whatsapp_signature(SECRET, raw)}
        started = time.perf_counter()
        answer = await client.post(url + "/channels/wa/webhook", content=raw, headers=headers)
        took = time.perf_counter() - started
        answer.raise_for_status()
        return took

    limits = httpx.Limits(max_connections=len(messages))
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        return list(await asyncio.gather(*(one(client, s, m) for s, m in messages)))


def replies_to(graph: FakeGraphAPI, senders: set[str]) -> Counter[str]:
    return Counter(r.json["to"] for r in graph.sent if r.json and r.json.get("to") in senders)


def wait_replies(graph: FakeGraphAPI, senders: set[str], timeout_s: float) -> float:
    """Seconds until every sender had a reply (or the timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if set(replies_to(graph, senders)) >= senders:
            break
        time.sleep(0.05)
    return time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(server: Server, graph: FakeGraphAPI, senders: int) -> dict[str, Any]:
    people = [f"1555{n:07d}" for n in range(senders)]
    messages = [(p, f"wamid.load.{p}") for p in people]
    started = time.monotonic()
    acks = asyncio.run(deliver_all(server.url, messages))
    wait_replies(graph, set(people), 300)
    last = time.monotonic() - started
    got = replies_to(graph, set(people))
    asyncio.run(deliver_all(server.url, messages))  # the platform delivers everything again
    time.sleep(3.0)
    again = replies_to(graph, set(people))
    result = {
        "messages": senders,
        "ack_p50_ms": round(percentile(acks, 0.5) * 1000, 1),
        "ack_p99_ms": round(percentile(acks, 0.99) * 1000, 1),
        "ack_max_ms": round(max(acks) * 1000, 1),
        "replies": sum(got.values()),
        "senders_answered": len(got),
        "last_reply_s": round(last, 2),
        "replies_after_redelivery": sum(again.values()) - sum(got.values()),
    }
    print(
        f"load: {senders} messages from {senders} senders at once; ack p50 {result['ack_p50_ms']} ms, "
        f"p99 {result['ack_p99_ms']} ms, max {result['ack_max_ms']} ms; {result['replies']} replies "
        f"({result['senders_answered']} senders answered), the last after {result['last_reply_s']} s; "
        f"a redelivery of all {senders} added {result['replies_after_redelivery']} replies"
    )
    return result


def crashes(
    server: Server, graph: FakeGraphAPI, trials: int, per_trial: int, rng: random.Random
) -> dict[str, Any]:
    zero = duplicated = 0
    kill_points: list[float] = []
    before = server.uncertain()
    for trial in range(trials):
        people = {f"1666{trial:03d}{n:04d}" for n in range(per_trial)}
        asyncio.run(deliver_all(server.url, [(p, f"wamid.crash.{p}") for p in people]))
        pause = rng.uniform(0.0, 1.5)
        time.sleep(pause)
        kill_points.append(pause)
        server.kill()
        server.start()
        wait_replies(graph, people, 90)
        got = replies_to(graph, people)
        zero += sum(1 for p in people if got[p] == 0)
        duplicated += sum(got[p] - 1 for p in people if got[p] > 1)
    counted = server.uncertain() - before
    result = {
        "trials": trials,
        "messages": trials * per_trial,
        "no_reply": zero,
        "duplicate_replies": duplicated,
        "uncertain_counted": counted,
        "kill_after_s": [round(statistics.mean(kill_points), 2), round(max(kill_points), 2)],
    }
    print(
        f"kill -9: {trials} trials, {trials * per_trial} messages; killed 0-{result['kill_after_s'][1]} s "
        f"after the acknowledgements; messages with no reply: {zero}; duplicate replies: {duplicated}; sends "
        f"the outbox counted as begun again inside the duplicate window: {counted} "
        f"({'within the counted window' if duplicated <= counted else 'MORE DUPLICATES THAN COUNTED'})"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--senders", type=int, default=100)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--per-trial", type=int, default=10)
    parser.add_argument("--model", default="scripted:Noted, thank you for writing.?delay_s=0.02")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with FakeGraphAPI(token=TOKEN) as graph, tempfile.TemporaryDirectory(prefix="ponder-channels-") as tmp:
        server = Server(Path(tmp), graph, args.model)
        server.load_demo_store()
        server.start()
        try:
            loaded = load(server, graph, args.senders)
            crashed = crashes(server, graph, args.trials, args.per_trial, random.Random(args.seed))
        finally:
            server.stop()
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as out:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        out.write(json.dumps({"at": stamp, "model": args.model, "load": loaded, "kill9": crashed}) + "\n")


if __name__ == "__main__":
    main()
