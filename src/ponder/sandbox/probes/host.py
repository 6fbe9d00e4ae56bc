"""The host side of the escape probes: bait the host sets out, and what it sees of a live jail.

``ProbeHost`` owns the bait for one run of the suite: a world-readable secret file, a world-writable
directory, TCP and UDP listeners on loopback, a unix socket listener (on a path and in the abstract
namespace), and a victim process whose environment holds a canary. Everything is world-accessible on
purpose, so that only the jail, not file permissions, keeps the program away from it. After each
probe the host asks its own bait what happened (``arrivals()``, ``victim_alive()``,
``written_outside()``). ``snapshot()`` and ``sample()`` read the jail's processes from /proc. This
module never trusts what a jailed program prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import procs
from ..worker import Worker
from .base import ProcessView

__all__ = ["ProbeHost", "sample", "snapshot", "writable_used"]

CANARY_VARIABLE = "PONDER_PROBE_CANARY"


class ProbeHost:
    def __init__(self) -> None:
        self.token = secrets.token_hex(16)
        self.root = Path(tempfile.mkdtemp(prefix="ponder-probe-"))
        os.chmod(self.root, 0o755)
        self.secret_path = self.root / "secret.txt"
        self.secret_path.write_text(f"ponder-secret-{self.token}\n")
        os.chmod(self.secret_path, 0o644)
        self.open_dir = self.root / "open"
        self.open_dir.mkdir()
        os.chmod(self.open_dir, 0o777)
        self._sockets: list[socket.socket] = []
        self.tcp = self._listen(socket.socket(socket.AF_INET, socket.SOCK_STREAM), ("127.0.0.1", 0))
        self.udp = self._listen(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), ("127.0.0.1", 0))
        self.unix_path = str(self.root / "listener.sock")
        self.unix = self._listen(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), self.unix_path)
        os.chmod(self.unix_path, 0o777)
        self.abstract_name = f"\0ponder-probe-{self.token}"
        self.abstract = self._listen(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), self.abstract_name)
        sleep = shutil.which("sleep") or "/bin/sleep"
        self.victim = subprocess.Popen(
            [sleep, "3600"], env={CANARY_VARIABLE: self.canary}, start_new_session=True
        )

    @property
    def canary(self) -> str:
        return f"ponder-canary-{self.token}"

    @property
    def tcp_port(self) -> int:
        return int(self.tcp.getsockname()[1])

    @property
    def udp_port(self) -> int:
        return int(self.udp.getsockname()[1])

    def _listen(self, sock: socket.socket, address: tuple[str, int] | str) -> socket.socket:
        sock.bind(address)
        if sock.type == socket.SOCK_STREAM:
            sock.listen(16)
        sock.setblocking(False)
        self._sockets.append(sock)
        return sock

    def arrivals(self) -> list[str]:
        """Connections and datagrams that reached the host's listeners since the last call."""
        seen = []
        for name, sock in (("tcp", self.tcp), ("unix", self.unix), ("abstract unix", self.abstract)):
            with contextlib.suppress(BlockingIOError):
                while True:
                    connection, _ = sock.accept()
                    connection.close()
                    seen.append(f"a {name} connection")
        with contextlib.suppress(BlockingIOError):
            while True:
                data = self.udp.recv(65536)
                seen.append(f"a udp datagram ({len(data)} bytes)")
        return seen

    def victim_alive(self) -> bool:
        return self.victim.poll() is None

    def write_targets(self) -> list[str]:
        """Host directories a program must not be able to write to (the open one is mode 0777)."""
        interpreter = os.path.realpath(sys.base_prefix)
        return [
            str(self.open_dir),
            "/",
            "/usr",
            "/etc",
            "/var/tmp",
            "/root",
            "/home",
            interpreter,
            "/dev/shm",
        ]

    def written_outside(self, marker: str) -> list[str]:
        """Host paths where a file named ``marker`` appeared."""
        found = [p for p in self.write_targets() if os.path.lexists(os.path.join(p, marker))]
        found += [str(p) for p in self.open_dir.iterdir()]
        for path in found:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(path, marker) if os.path.isdir(path) else path)
        return sorted(set(found))

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()
        self.victim.kill()
        self.victim.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _jail_pids(worker: Worker) -> list[int]:
    found = set(procs.pids_of_uid(worker.uid))
    if worker.jail.cgroup:
        found.update(worker.jail.cgroup.pids())
    return sorted(found)


def _block_devices(pid: int) -> list[str]:
    found = []
    with contextlib.suppress(OSError):
        for name in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if stat.S_ISBLK(os.stat(f"/proc/{pid}/fd/{name}").st_mode):
                    found.append(os.readlink(f"/proc/{pid}/fd/{name}"))
    return found


def snapshot(worker: Worker) -> list[ProcessView]:
    """Every process of the jail, as /proc shows it now."""
    views = []
    for pid in _jail_pids(worker):
        mountinfo = ""
        with contextlib.suppress(OSError):
            mountinfo = Path(f"/proc/{pid}/mountinfo").read_text()
        view = ProcessView(
            pid=pid,
            outer=pid == worker.process.pid,
            status=procs.status(pid),
            fds=procs.fd_targets(pid),
            block_device_fds=_block_devices(pid),
            namespaces=procs.namespaces(pid),
            mountinfo=mountinfo,
        )
        if view.status and view.namespaces and procs.status(pid):  # skip processes that exited meanwhile
            views.append(view)
    return views


def _pss(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def writable_used(worker: Worker) -> int | None:
    """Bytes used in the jail's writable place: its /tmp tmpfs (tier 1) or its private directory."""
    if worker.jail.private_dir:
        total = 0
        for directory, _, files in os.walk(worker.jail.private_dir):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(directory, name)).st_blocks * 512
        return total
    for view_pid in _jail_pids(worker):
        if view_pid == worker.process.pid:
            continue
        with contextlib.suppress(OSError):
            info = os.statvfs(f"/proc/{view_pid}/root/tmp")
            return (info.f_blocks - info.f_bfree) * info.f_frsize
    return None


async def sample(worker: Worker, stop: asyncio.Event, interval_s: float = 0.02) -> tuple[int, int]:
    """Sample the jail until ``stop``: (most threads at once, largest total PSS in bytes)."""
    peak_tasks = peak_pss = 0
    while not stop.is_set():
        tasks, pss = await asyncio.to_thread(_measure, worker)
        peak_tasks, peak_pss = max(peak_tasks, tasks), max(peak_pss, pss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
    return peak_tasks, peak_pss


def _measure(worker: Worker) -> tuple[int, int]:
    tasks = pss = 0
    for pid in _jail_pids(worker):
        with contextlib.suppress(OSError):
            tasks += len(os.listdir(f"/proc/{pid}/task"))
        pss += _pss(pid)
    return tasks, pss
