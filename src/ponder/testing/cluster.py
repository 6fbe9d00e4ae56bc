"""Several Ponder replicas on one machine, as a deployment runs them: the harness of the multi-replica tests
and benches (tests/deploy/test_replicas.py, bench/replicas.py).

- ``redis_server``: a throwaway redis-server on a free port (no persistence);
- ``fake_engine``: the fake OpenAI-compatible engine (ponder.testing.engine) as a process of its own, and
  an ``EngineClient`` reading what it was sent;
- ``round_robin``: the round-robin proxy (ponder.testing.proxy) in front of a list of replicas;
- ``Cluster``: N ``ponder serve`` processes sharing one config (the database, Redis and the engine), each
  with its own data directory, so that nothing they share passes through a local file. Keys are created in
  the shared database.

Every process's output goes to a log file beside it; a process that does not come up raises with the end
of its log. Not here: what the replicas are asked (the tests and benches), nor PostgreSQL itself (the caller
passes a database URL: scripts/postgres.sh starts a server).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ponder.store import KeyStore, open_database
from ponder.store.database import sql
from ponder.testing.proxy import HEALTH_PATH

__all__ = [
    "Cluster",
    "EngineClient",
    "Process",
    "cpu_seconds",
    "fake_engine",
    "free_port",
    "jobs_waiting",
    "redis_server",
    "round_robin",
    "wait_for_port",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    """A process of the harness: what it is, where it answers, and its log."""

    name: str
    url: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """kill -9: no shutdown, no lifespan, nothing flushed."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout_s: float = 30.0) -> None:
        if not self.alive():
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux: /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime and stime, fields 14 and 15 of stat


def _spawn(
    name: str, command: Sequence[str], log: Path, url: str, env: Mapping[str, str] | None = None
) -> Process:
    """Start ``command``, its output to ``log``, as the process ``name`` answering at ``url``."""
    with log.open("wb") as out:
        popen = subprocess.Popen(
            list(command), env=dict(env or os.environ), stdout=out, stderr=subprocess.STDOUT
        )
    return Process(name, url, popen, log)


def _await(process: Process, path: str, timeout_s: float) -> None:
    """Wait until GET ``process.url + path`` answers 200; kill the process and raise, with the end of its
    log, if it exits or does not within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(process.url + path, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not process.alive():
            process.kill()
            raise RuntimeError(f"{process.name} did not answer {path} with 200:\n{process.tail()}")
        time.sleep(0.1)


def _start(
    name: str, command: Sequence[str], log: Path, url: str, ready: str, timeout_s: float = 120.0
) -> Process:
    """Start ``command`` answering at ``url`` and wait until GET ``url + ready`` answers 200."""
    process = _spawn(name, command, log, url)
    _await(process, ready, timeout_s)
    return process


def wait_for_port(port: int, popen: subprocess.Popen[Any], what: str, timeout_s: float = 30.0) -> None:
    """Wait until ``popen`` (``what``) accepts connections on loopback ``port``; kill it and raise if it
    exits or does not within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline or popen.poll() is not None:
                popen.kill()
                raise RuntimeError(f"{what} did not start listening on port {port}") from None
            time.sleep(0.05)


def jobs_waiting(database_url: str, kind: str) -> int:
    """Jobs of ``kind`` not finished yet (queued, or running under a lease) in the shared database."""
    db = open_database(database_url)
    try:
        with db.transaction() as conn:
            query = "SELECT count(*) FROM jobs WHERE kind = :kind AND state IN ('queued', 'running')"
            return int(conn.execute(sql(query), {"kind": kind}).scalar_one())
    finally:
        db.close()


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A redis-server on a free loopback port, kept in memory only; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("needs redis-server: apt-get install redis-server")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    popen = subprocess.Popen(
        [*command, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port, popen, "redis-server")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        popen.terminate()
        popen.wait(10)


@dataclass
class EngineClient:
    """The fake engine, seen from the test: what it was sent, and its rules."""

    process: Process

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def spec(self) -> str:
        """The model spec that reaches it: ``openai:URL/v1#fake-engine``."""
        return f"openai:{self.url}/v1#fake-engine"

    def requests(self) -> list[dict[str, Any]]:
        """Every request since the last ``forget``: ``{"headers", "body", "at"}`` (header names lowercase)."""
        answer = httpx.get(self.url + "/fake/requests", timeout=30)
        answer.raise_for_status()
        return list(answer.json())

    def forget(self) -> None:
        httpx.delete(self.url + "/fake/requests", timeout=30).raise_for_status()

    def set_rules(self, rules: Sequence[Mapping[str, Any]]) -> None:
        httpx.put(self.url + "/fake/rules", json=list(rules), timeout=30).raise_for_status()

    def set_speed(self, token_delay_s: float, tokens: int = 16) -> None:
        speed = {"token_delay_s": token_delay_s, "tokens": tokens}
        httpx.put(self.url + "/fake/speed", json=speed, timeout=30).raise_for_status()


@contextlib.contextmanager
def fake_engine(
    workdir: Path, *, token_delay_s: float = 0.0, tokens: int = 16, cpu: int | None = None
) -> Iterator[EngineClient]:
    """The fake engine (ponder.testing.engine) as a process on a free port."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "ponder.testing.engine", "--port", str(port)]
    command += ["--token-delay", str(token_delay_s), "--tokens", str(tokens)]
    url = f"http://127.0.0.1:{port}"
    process = _start("fake engine", _pinned(command, cpu), workdir / "engine.log", url, "/v1/models")
    try:
        yield EngineClient(process)
    finally:
        process.stop()


@contextlib.contextmanager
def round_robin(workdir: Path, upstreams: Sequence[str], *, cpu: int | None = None) -> Iterator[Process]:
    """The round-robin proxy (ponder.testing.proxy) in front of ``upstreams``."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "ponder.testing.proxy", "--port", str(port), *upstreams]
    url = f"http://127.0.0.1:{port}"
    process = _start("proxy", _pinned(command, cpu), workdir / f"proxy-{port}.log", url, HEALTH_PATH)
    try:
        yield process
    finally:
        process.stop()


def _pinned(command: list[str], cpu: int | None) -> list[str]:
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


@dataclass
class Cluster:
    """``ponder serve`` replicas sharing ``database_url``, ``redis_url`` and the model ``model``.

    ``slots``: turns one replica runs at once (``server.max_concurrent_turns``); ``tiers``: name -> requests
    per minute; ``config_extra``: TOML appended to the shared config (tables of its own)."""

    home: Path
    database_url: str
    redis_url: str
    model: str
    slots: int = 4
    tiers: Mapping[str, int] = field(default_factory=lambda: {"big": 100_000_000})
    config_extra: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    replicas: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tiers = "".join(
            f"[server.tiers.{name}]\nrequests_per_minute = {rate}\n" for name, rate in self.tiers.items()
        )
        self.config = self.home / "config.toml"
        self.config.write_text(
            f"model = {json.dumps(self.model)}\nprograms = false\n"
            f"database_url = {json.dumps(self.database_url)}\n"
            f"[server]\nredis_url = {json.dumps(self.redis_url)}\nwarm = false\n"
            f"max_concurrent_turns = {self.slots}\nmax_turns_per_key = {self.slots}\n"
            f"{tiers}{self.config_extra}"
        )

    def key(self, account: str, tier: str = "big") -> str:
        """A new API key of ``account`` on ``tier``, written to the shared database."""
        db = open_database(self.database_url)
        try:
            return KeyStore(db).create(account, tier)[1]
        finally:
            db.close()

    def start(self, count: int, *, cpus: Sequence[int | None] = ()) -> list[Process]:
        """Start ``count`` more replicas, all at once, and wait for each to be ready (``/readyz``)."""
        ports = [free_port() for _ in range(count)]
        starting = [self._launch(port, cpus[i] if i < len(cpus) else None) for i, port in enumerate(ports)]
        for process in starting:
            _await(process, "/readyz", 180.0)
        self.replicas += starting
        return starting

    def _launch(self, port: int, cpu: int | None) -> Process:
        name = f"replica-{port}"
        data = self.home / name
        data.mkdir()
        env = {**os.environ, **self.env, "PONDER_CONFIG": str(self.config), "XDG_DATA_HOME": str(data)}
        command = _pinned(
            [sys.executable, "-m", "ponder", "serve", "--port", str(port), "--log-level", "warning"], cpu
        )
        return _spawn(name, command, data / "server.log", f"http://127.0.0.1:{port}", env)

    def stop(self) -> None:
        for process in self.replicas:
            process.stop()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
