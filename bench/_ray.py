"""Ponder's API served by Ray Serve on a local single-node Ray cluster, for the benches: ``ray_serve`` starts
Ray (``ray start --head``), deploys ``ponder.deploy.ray:build_app`` with a Serve config file (``serve run``),
waits until ``/readyz`` answers through Ray's HTTP proxy, yields the proxy's URL, and stops it all.

Ray is not one of Ponder's dependencies: Ray and the ``serve`` CLI run from a virtualenv of their own (ray
and Ponder installed in it, ``make_ray_venv``), found by ``PONDER_RAY_PYTHON``, while the bench that uses
this module runs in Ponder's own environment and never imports ray. Every Ray process of the session
descends from one ``ray start --block`` started in a process session of its own, which is how
``ray_cpu_seconds`` finds them and how they are stopped: by that session's process ids, never with
``ray stop`` (it kills every Ray process of the machine by name, another bench's cluster too).

The cluster is kept small for a 2-core machine: no dashboard, no log monitor, no usage stats, a 200 MiB
object store, ``--num-cpus`` just what the replicas reserve (the Serve controller and proxy reserve none),
every port a free one, and a token of its own (``RAY_AUTH_TOKEN``), so it neither reads nor writes
``~/.ray``. Not here: the database, Redis and the engine the replicas reach (ponder.testing.cluster), nor
what is asked of them (the benches).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = [
    "DEFAULT_RAY_PYTHON",
    "RAY_PYTHON_ENV",
    "make_ray_venv",
    "ray_cpu_seconds",
    "ray_python",
    "ray_serve",
]

RAY_PYTHON_ENV = "PONDER_RAY_PYTHON"
DEFAULT_RAY_PYTHON = Path("/tmp/ponder-ray/bin/python")
RAY_REQUIREMENT = "ray[serve]==2.60.0"
REPO = Path(__file__).resolve().parents[1]
APPLICATION = "ponder"
OBJECT_STORE_BYTES = 200 * 1024 * 1024
# What the Serve controller logs when it marks the application DEPLOY_FAILED: its replicas' constructors
# failed (Serve retries a few, then gives up), or building the application did.
DEPLOY_FAILED = ("Failed to update the deployments", "failed with exception", "Unexpected error occurred")
# A temp dir longer than this leaves no room for Ray's socket paths (108 bytes in all), which add
# "/session_<date>_<time>_<micros>_<pid>/sockets/plasma_store" (some 65 characters) to it.
MAX_TEMP_DIR = 40


@dataclass
class _Session:
    """The running Ray cluster: its ``ray start --block`` process (the leader of a process session) and
    its temp dir (``session_latest/logs`` under it)."""

    leader: subprocess.Popen[bytes]
    temp_dir: Path
    log: Path  # ray start's own output


_active: _Session | None = None  # the session ray_cpu_seconds reads: one ray_serve at a time


def ray_python(python: Path | str | None = None) -> Path:
    """The Ray venv's python: ``python``, else ``$PONDER_RAY_PYTHON``, else /tmp/ponder-ray/bin/python."""
    chosen = Path(python or os.environ.get(RAY_PYTHON_ENV) or DEFAULT_RAY_PYTHON)
    if not chosen.exists():
        raise RuntimeError(
            f"no Ray virtualenv at {chosen} (Ray is not one of Ponder's dependencies): build one from the "
            f'repository root with `python -m venv DIR && DIR/bin/pip install "ray[serve]" -e .` (or the '
            f"bench's --make-ray-venv), then set {RAY_PYTHON_ENV}=DIR/bin/python"
        )
    return chosen


def make_ray_venv(directory: Path) -> Path:
    """A virtualenv at ``directory`` with Ray Serve and this checkout of Ponder (editable), made if it does
    not exist yet; returns its python."""
    python = directory / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", RAY_REQUIREMENT, "-e", str(REPO)]
        subprocess.run(pip, check=True)
    return python


@contextlib.contextmanager
def ray_serve(
    workdir: Path,
    config: Path,
    *,
    replicas: int,
    num_cpus: float,
    max_ongoing_requests: int,
    env: Mapping[str, str] = {},
    python: Path | str | None = None,
    timeout_s: float = 300.0,
) -> Iterator[str]:
    """Ponder on ``replicas`` Ray Serve replicas, each reserving ``num_cpus`` and sent at most
    ``max_ongoing_requests`` at once, built from ``config`` (``PONDER_CONFIG``) and ``env`` (which wins);
    yields the base URL of Ray's HTTP proxy once ``/readyz`` answers 200 there. On exit, Serve is shut down
    (each replica's lifespan runs) and every process of the Ray session is stopped."""
    global _active
    if _active is not None:
        raise RuntimeError("a Ray cluster of ray_serve is already running in this process")
    python = ray_python(python)
    workdir.mkdir(parents=True, exist_ok=True)
    temp_dir = _temp_dir(workdir)
    ray_env = {**os.environ, **_ray_auth()}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    session = _start_ray(python, temp_dir, port, math.ceil(replicas * num_cpus - 1e-9), ray_env)
    _active = session
    clean = False
    try:
        http_port = _free_port()
        replica_env = {"PONDER_CONFIG": str(config), "XDG_DATA_HOME": str(workdir / "ray-data"), **env}
        serve_config = workdir / "serve.json"
        options = {"replicas": replicas, "num_cpus": num_cpus, "max_ongoing_requests": max_ongoing_requests}
        serve_config.write_text(json.dumps(_serve_config(http_port, options, replica_env), indent=2))
        _serve(python, ["run", str(serve_config), "--non-blocking", "--address", address], ray_env, workdir)
        url = f"http://127.0.0.1:{http_port}"
        _await_ready(url, session, timeout_s)
        yield url
        clean = True
    finally:
        try:
            if session.leader.poll() is None:  # a dead cluster has no Serve to shut down
                _shutdown_serve(python, address, ray_env, workdir)
        finally:
            _stop_ray(session)
            _active = None
        if clean and temp_dir.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(temp_dir, ignore_errors=True)


def ray_cpu_seconds() -> float:
    """CPU seconds (user and system) used so far by the running ray_serve cluster: every process of its
    session (GCS, raylet, agents, the Serve controller, proxy and replicas), with the children they have
    already reaped. Not the bench's own process, nor the short ``serve run`` client."""
    if _active is None:
        raise RuntimeError("no Ray cluster is running: call ray_cpu_seconds inside `with ray_serve(...)`")
    return sum(_process_cpu(stat) for stat in _session_stats(_active.leader.pid).values())


# --- starting and stopping ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _temp_dir(workdir: Path) -> Path:
    """A fresh temp dir for Ray: under ``workdir`` if its path is short enough, else under /tmp."""
    parent = workdir.resolve()
    if len(str(parent)) + len("/ray-xxxxxxxx") > MAX_TEMP_DIR:
        parent = Path(tempfile.gettempdir())
    return Path(tempfile.mkdtemp(prefix="ray-", dir=parent))


def _ray_auth() -> dict[str, str]:
    """A token of this cluster's own: Ray's default would read (or write) ~/.ray/auth_token."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}


def _start_ray(python: Path, temp_dir: Path, port: int, cpus: int, env: Mapping[str, str]) -> _Session:
    """``ray start --head --block`` as the leader of a new process session; returns once the GCS and the
    raylet are up (the session's ``raylet.out`` exists and the GCS port accepts connections)."""
    ports = {
        "--port": port,
        "--node-manager-port": _free_port(),
        "--object-manager-port": _free_port(),
        "--ray-client-server-port": _free_port(),
        "--dashboard-port": _free_port(),
        "--dashboard-agent-listen-port": _free_port(),
        "--dashboard-agent-grpc-port": _free_port(),
        "--runtime-env-agent-port": _free_port(),
        "--metrics-export-port": _free_port(),
    }
    command = [str(python.parent / "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1"]
    command += [str(part) for pair in ports.items() for part in pair]
    command += ["--min-worker-port", "0", "--max-worker-port", "0"]  # 0: each worker binds a free port
    command += ["--num-cpus", str(max(1, cpus)), "--object-store-memory", str(OBJECT_STORE_BYTES)]
    command += ["--include-dashboard", "false", "--include-log-monitor", "false", "--disable-usage-stats"]
    command += ["--temp-dir", str(temp_dir), "--log-style", "record"]
    log = temp_dir / "ray-start.log"
    with log.open("wb") as out:
        leader = subprocess.Popen(
            command, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    session = _Session(leader, temp_dir, log)
    deadline = time.monotonic() + 120
    while b"Ray runtime started" not in log.read_bytes():
        if leader.poll() is not None or time.monotonic() > deadline:
            _stop_ray(session)
            raise RuntimeError(f"ray start did not come up ({' '.join(command)}):\n{_tail(log)}")
        time.sleep(0.2)
    return session


def _serve_config(http_port: int, options: Mapping[str, object], env: Mapping[str, str]) -> dict[str, object]:
    """The Serve config file: one application, Ponder's builder with ``options`` as its arguments
    (``serve run ponder.deploy.ray:build_app replicas=...``), ``env`` in its runtime_env (what each replica
    process is started with), the HTTP proxy on the head node only, on 127.0.0.1:``http_port``."""
    return {
        "proxy_location": "HeadOnly",
        "http_options": {"host": "127.0.0.1", "port": http_port},
        "applications": [
            {
                "name": APPLICATION,
                "route_prefix": "/",
                "import_path": "ponder.deploy.ray:build_app",
                "args": {name: str(value) for name, value in options.items()},
                "runtime_env": {"env_vars": dict(env)},
            }
        ],
    }


def _serve(python: Path, arguments: list[str], env: Mapping[str, str], workdir: Path) -> None:
    """Ray's ``serve`` CLI, its output in workdir/serve.log; raises with that output when it fails."""
    log = workdir / "serve.log"
    with log.open("ab") as out:
        done = subprocess.run(
            [str(python.parent / "serve"), *arguments],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=300,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"serve {' '.join(arguments)} failed ({done.returncode}):\n{_tail(log)}")


def _await_ready(url: str, session: _Session, timeout_s: float) -> None:
    """Until GET ``url``/readyz answers 200 through Ray's proxy; raises early if the application failed
    to deploy (the Serve controller logs why when it marks it DEPLOY_FAILED), or if Ray died."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return
        controller = _serve_logs(session, "controller_")
        failed = any(marker in controller for marker in DEPLOY_FAILED)
        if failed or session.leader.poll() is not None or time.monotonic() > deadline:
            why = "failed to deploy" if failed else "did not become ready"
            raise RuntimeError(f"Ponder on Ray Serve {why} at {url}/readyz:\n{_diagnosis(session)}")
        time.sleep(0.5)


def _shutdown_serve(python: Path, address: str, env: Mapping[str, str], workdir: Path) -> None:
    """``serve.shutdown()`` from a driver in the Ray venv (the ``serve shutdown`` CLI needs the dashboard):
    the replicas stop gracefully, their lifespans run."""
    script = (
        "import ray; from ray import serve\n"
        f"ray.init(address={address!r}, namespace='serve', log_to_driver=False)\n"
        "serve.shutdown()\n"
    )
    log = workdir / "serve.log"
    with log.open("ab") as out, contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            [str(python), "-c", script], env=dict(env), stdout=out, stderr=subprocess.STDOUT, timeout=120
        )


def _stop_ray(session: _Session, timeout_s: float = 45.0) -> None:
    """SIGTERM to ``ray start --block`` (it drains the node and stops what it started), then SIGKILL to
    whatever of its process session is left."""
    leader = session.leader
    if leader.poll() is None:
        leader.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            leader.wait(timeout_s)
    deadline = time.monotonic() + 10
    while True:
        left = [pid for pid in _session_stats(leader.pid) if pid != leader.pid]
        if leader.poll() is None:
            left.append(leader.pid)
        if not left:
            return
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if leader.poll() is None:
            leader.wait(5)
        if time.monotonic() > deadline:
            raise RuntimeError(f"Ray processes {left} outlived SIGKILL")
        time.sleep(0.2)


# --- processes and logs ---------------------------------------------------------------------------------


def _session_stats(leader: int) -> dict[int, list[str]]:
    """The processes of ``leader``'s process session, and their descendants elsewhere: pid -> the fields
    of /proc/PID/stat after the command name (state first: ppid is [1], session [3], utime [11])."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # gone since the listing
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
    chosen = {pid for pid, fields in stats.items() if int(fields[3]) == leader}
    grew = True
    while grew:
        more = {pid for pid, fields in stats.items() if int(fields[1]) in chosen} - chosen
        chosen |= more
        grew = bool(more)
    return {pid: stats[pid] for pid in chosen}


def _process_cpu(fields: list[str]) -> float:
    # utime, stime, cutime, cstime: fields 14 to 17 of /proc/PID/stat, in clock ticks
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _logs(session: Path) -> Path:
    return session / "session_latest" / "logs"


def _serve_logs(session: _Session, prefix: str) -> str:
    folder = _logs(session.temp_dir) / "serve"
    files = sorted(folder.glob(prefix + "*.log")) if folder.exists() else []
    return "".join(f.read_text(errors="replace") for f in files)


def _diagnosis(session: _Session) -> str:
    """The ends of the logs that say why Serve did not come up: ray start's, the Serve controller's last
    exception (a replica's constructor raising, Ponder's ConfigError among them), the proxy's, the
    replicas', the workers' stderr."""
    logs = _logs(session.temp_dir)
    parts = [f"== {session.log}\n{_tail(session.log, 1000)}"]
    controller = _serve_logs(session, "controller_")
    if "Traceback" in controller:  # a replica's or the build's exception, as the controller saw it
        start = controller.rfind("\n", 0, controller.rfind("Traceback") - 400) + 1
        parts.append(f"== the Serve controller's last error\n{controller[start : start + 4000]}")
    for pattern in ("serve/replica_*.log", "worker-*.err"):
        for path in sorted(logs.glob(pattern))[-3:]:
            if path.stat().st_size:
                parts.append(f"== {path}\n{_tail(path, 2000)}")
    return "\n".join(parts) + f"\n(all of Ray's logs: {logs})"


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""
