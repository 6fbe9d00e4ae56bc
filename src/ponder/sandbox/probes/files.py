"""Probes on the host's files: its shadow file, a secret it planted, process environments, writes
outside the jail's writable place, and raw block devices."""

from __future__ import annotations

from pathlib import Path

from .base import Observation, Probe
from .host import ProbeHost

__all__ = ["FILE_PROBES"]


def _leaked(observation: Observation, needles: list[str]) -> list[str]:
    text = observation.result.stdout + observation.result.stderr
    return [n for n in needles if n and n in text]


def _holding(observation: Observation, path: str) -> list[int]:
    return [v.pid for v in observation.processes if any(fd == path for fd in v.fds)]


def _shadow_program(host: ProbeHost) -> str:
    return """
held = []
def grab(path):
    fd = os.open(path, os.O_RDONLY)
    held.append(fd)
    return os.read(fd, 65536).decode(errors="replace")
attempt("open /etc/shadow", lambda: grab("/etc/shadow"))
attempt("open /etc/gshadow", lambda: grab("/etc/gshadow"))
attempt("via /proc/1/root", lambda: grab("/proc/1/root/etc/shadow"))
hold()
"""


def _shadow_check(host: ProbeHost, observation: Observation) -> str | None:
    try:
        lines = [line for line in Path("/etc/shadow").read_text().splitlines() if len(line) > 3]
    except OSError:
        lines = []
    leaked = _leaked(observation, lines)
    holders = _holding(observation, "/etc/shadow")
    if leaked or holders:
        return f"read /etc/shadow ({len(leaked)} lines in its output, held open by {holders})"
    return None


def _secret_program(host: ProbeHost) -> str:
    return f"""
held = []
def grab(path):
    fd = os.open(path, os.O_RDONLY)
    held.append(fd)
    return os.read(fd, 4096).decode(errors="replace")
attempt("open the host's secret", lambda: grab({str(host.secret_path)!r}))
attempt("through /proc/1/root", lambda: grab("/proc/1/root" + {str(host.secret_path)!r}))
attempt("through /proc/1/cwd", lambda: grab("/proc/1/cwd/" + {str(host.secret_path)!r}))
attempt("list its directory", lambda: os.listdir({str(host.root)!r}))
hold()
"""


def _secret_check(host: ProbeHost, observation: Observation) -> str | None:
    leaked = _leaked(observation, [host.token])
    holders = _holding(observation, str(host.secret_path))
    if leaked or holders:
        return f"read the host's secret file (in its output: {bool(leaked)}, held open by {holders})"
    return None


def _environ_program(host: ProbeHost) -> str:
    return f"""
def environ(pid):
    with open("/proc/%s/environ" % pid, "rb") as f:
        return f.read().decode(errors="replace")
attempt("/proc/1/environ", lambda: environ(1))
attempt("/proc/self/environ", lambda: environ("self"))
attempt("/proc/PARENT/environ", lambda: environ(os.getppid()))
attempt("the victim's environ", lambda: environ({host.victim.pid}))
def every():
    found = {{}}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                found[name] = environ(name)
            except OSError as err:
                found[name] = str(err)
    return found
attempt("every /proc/*/environ", every)
attempt("os.environ", lambda: dict(os.environ))
hold()
"""


def _environ_check(host: ProbeHost, observation: Observation) -> str | None:
    if _leaked(observation, [host.canary]):
        return "read a host process's environment (the canary reached its output)"
    return None


MARKER = "ponder-escape-marker"


def _write_program(host: ProbeHost) -> str:
    return f"""
def write(directory):
    with open(os.path.join(directory, {MARKER!r}), "w") as f:
        f.write("escaped")
    return "WROTE"
for target in {host.write_targets()!r}:
    attempt("write in " + target, lambda target=target: write(target))
    attempt("write in /proc/1/root" + target, lambda target=target: write("/proc/1/root" + target))
attempt("symlink out of /tmp", lambda: os.symlink({str(host.open_dir)!r}, "/tmp/link") or write("/tmp/link"))
hold(0.5)
"""


def _write_check(host: ProbeHost, observation: Observation) -> str | None:
    found = host.written_outside(MARKER)
    return f"wrote on the host: {found}" if found else None


def _disk_program(host: ProbeHost) -> str:
    return """
import glob, stat
held = []
def read_device(path):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    held.append(fd)
    return len(os.read(fd, 4096))
candidates = ["/dev/sda", "/dev/vda", "/dev/nvme0n1", "/dev/xvda", "/dev/loop0", "/dev/dm-0", "/dev/mem",
              "/dev/kmem", "/dev/port"]
for pattern in ["sd*", "vd*", "xvd*", "nvme*", "loop*", "dm-*", "mmcblk*", "md*", "mapper/*", "disk/by-*/*"]:
    candidates += glob.glob("/dev/" + pattern)
for path in sorted(set(candidates)):
    attempt("read " + path, lambda path=path: read_device(path))
def make_node():
    os.mknod("/tmp/disk", stat.S_IFBLK | 0o600, os.makedev(253, 0))
    return read_device("/tmp/disk")
attempt("mknod a block device", make_node)
hold()
"""


def _disk_check(host: ProbeHost, observation: Observation) -> str | None:
    return None  # the jail invariants look for block devices among the held descriptors


FILE_PROBES = (
    Probe("shadow", "read /etc/shadow", _shadow_program, _shadow_check),
    Probe("host_secret", "read a secret file the host planted (mode 0644)", _secret_program, _secret_check),
    Probe("proc_environ", "read /proc/1/environ and other processes' environments", _environ_program,
          _environ_check),
    Probe("write_outside", "write outside the jail's writable place (incl. a mode 0777 host dir)",
          _write_program, _write_check),
    Probe("raw_disk", "open a block device (/dev/sda, /dev/vda, mknod)", _disk_program, _disk_check),
)  # fmt: skip
