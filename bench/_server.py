"""Start ``ponder serve`` as a real process for the server benchmarks: its own data dir, config and key."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ponder.store import KeyStore, open_database


@dataclass
class Served:
    url: str
    key: str
    process: subprocess.Popen[bytes]
    log: Path
    others: dict[str, str]  # account -> a key of it, for the accounts asked for besides "bench"
    database: str = ""  # the server's database: its URL, or the path of its SQLite file


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    model: str,
    *,
    per_minute: int = 100_000_000,
    concurrency: int = 64,
    cpu: int | None = None,
    log_level: str = "info",
    accounts: Sequence[str] = (),
    source: Path | None = None,
    database_url: str | None = None,
    config_extra: str = "",
) -> Iterator[Served]:
    """``ponder serve`` on a free loopback port with one key of a tier allowing ``per_minute`` requests
    (account "bench", and one for each of ``accounts``); ``source``: run Ponder from that src/ directory
    instead (another checkout, for a before/after comparison); ``database_url``: that database instead of
    a SQLite file in the data directory; ``config_extra``: TOML appended to the generated config.toml (after
    its ``[server.tiers.bench]`` table, so it starts with a table of its own)."""
    with tempfile.TemporaryDirectory(prefix="ponder-bench-") as tmp:
        home = Path(tmp)
        config = home / "config.toml"
        database = f"database_url = {json.dumps(database_url)}\n" if database_url else ""
        config.write_text(
            f'model = "{model}"\nprograms = false\n{database}[server]\nmax_concurrent_turns = {concurrency}\n'
            f"max_turns_per_key = {concurrency}\n"  # one key here: it may use every slot
            f"[server.tiers.bench]\nrequests_per_minute = {per_minute}\n{config_extra}"
        )
        env = {**os.environ, "PONDER_CONFIG": str(config), "XDG_DATA_HOME": str(home / "data")}
        target = database_url or str(home / "data" / "ponder" / "ponder.db")
        db = open_database(target)
        key = KeyStore(db).create("bench", "bench")[1]
        others = {account: KeyStore(db).create(account, "bench")[1] for account in accounts}
        db.close()
        if source is not None:
            env["PYTHONPATH"] = str(source)
        port = free_port()
        command = [sys.executable, "-m", "ponder", "serve", "--port", str(port), "--log-level", log_level]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        log = home / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180  # the server loads and warms its model first
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"ponder serve did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.1)
            yield Served(url, key, process, log, others, target)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
