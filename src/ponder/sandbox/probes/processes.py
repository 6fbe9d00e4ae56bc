"""Probes on other processes and on privilege: killing and tracing a host process, gaining
capabilities or another identity, entering new namespaces, and mounting."""

from __future__ import annotations

from pathlib import Path

from .base import Observation, Probe, syscall_number
from .host import ProbeHost

__all__ = ["PROCESS_PROBES"]


def _kill_program(host: ProbeHost) -> str:
    victim = host.victim.pid
    return f"""
attempt("kill the victim", lambda: os.kill({victim}, signal.SIGKILL))
attempt("kill the victim's group", lambda: os.killpg({victim}, signal.SIGKILL))
def by_pidfd():
    fd = syscall({syscall_number("pidfd_open")}, {victim}, 0)
    if isinstance(fd, str):
        return fd
    return syscall({syscall_number("pidfd_send_signal")}, fd, signal.SIGKILL, None, 0)
attempt("pidfd_send_signal to the victim", by_pidfd)
hold(0.5)
"""


def _kill_check(host: ProbeHost, observation: Observation) -> str | None:
    return None if host.victim_alive() else "killed a process the host started"


def _ptrace_program(host: ProbeHost) -> str:
    victim = host.victim.pid
    ptrace = syscall_number("ptrace")
    return f"""
attempt("PTRACE_ATTACH the victim", lambda: syscall({ptrace}, 16, {victim}, None, None))
attempt("PTRACE_SEIZE the victim", lambda: syscall({ptrace}, 0x4206, {victim}, None, None))
attempt("PTRACE_ATTACH the parent", lambda: syscall({ptrace}, 16, os.getppid(), None, None))
attempt("PTRACE_TRACEME", lambda: syscall({ptrace}, 0, 0, None, None))
buf = ctypes.create_string_buffer(64)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
local = iovec(ctypes.cast(buf, ctypes.c_void_p), 64)
remote = iovec(0x400000, 64)
attempt("process_vm_readv the victim", lambda: syscall({syscall_number("process_vm_readv")}, {victim},
        ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
attempt("open /proc/VICTIM/mem", lambda: open("/proc/{victim}/mem", "rb").read(1))
hold()
"""


def _ptrace_check(host: ProbeHost, observation: Observation) -> str | None:
    try:
        status = Path(f"/proc/{host.victim.pid}/status").read_text()
    except OSError:
        return "the victim process is gone"
    tracer = next((line.split()[1] for line in status.splitlines() if line.startswith("TracerPid:")), "0")
    return None if tracer == "0" else f"attached to the host's victim process (TracerPid {tracer})"


def _capabilities_program(host: ProbeHost) -> str:
    return f"""
import subprocess
attempt("setuid(0)", lambda: os.setuid(0))
attempt("setgid(0)", lambda: os.setgid(0))
attempt("setgroups([0])", lambda: os.setgroups([0]))
attempt("unshare(CLONE_NEWUSER)", lambda: syscall({syscall_number("unshare")}, 0x10000000))
class header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class data(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]
caps = (data * 2)(data(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), data(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF))
attempt("capset(all)", lambda: syscall({syscall_number("capset")}, ctypes.byref(header(0x20080522, 0)), caps))
kept = []
for binary in ["/usr/bin/su", "/usr/bin/passwd", "/usr/bin/newgrp", "/usr/bin/mount", "/usr/bin/chsh"]:
    if os.path.exists(binary) and os.stat(binary).st_mode & 0o4000:
        def run_setuid(binary=binary):
            child = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
            kept.append(child)
            return "started " + binary
        attempt("exec setuid " + binary, run_setuid)
        break
attempt("own status", lambda: [l for l in open("/proc/self/status") if l.startswith(("Cap", "Uid", "NoNew"))])
hold()
"""


def _identity_check(host: ProbeHost, observation: Observation) -> str | None:
    return None  # identity, capabilities and no_new_privs are jail invariants, checked on every process


def _namespaces_program(host: ProbeHost) -> str:
    unshare, setns, clone = (syscall_number(n) for n in ("unshare", "setns", "clone"))
    return f"""
flags = {{"user": 0x10000000, "mount": 0x20000, "pid": 0x20000000, "net": 0x40000000, "ipc": 0x08000000,
         "uts": 0x04000000, "cgroup": 0x02000000, "time": 0x80}}
for name, flag in flags.items():
    attempt("unshare " + name, lambda flag=flag: syscall({unshare}, flag))
def enter(kind):
    fd = os.open("/proc/1/ns/" + kind, os.O_RDONLY)
    return syscall({setns}, fd, 0)
for kind in ["net", "mnt", "pid", "user", "uts", "ipc", "cgroup"]:
    attempt("setns " + kind, lambda kind=kind: enter(kind))
def clone_new_user():
    result = syscall({clone}, 0x10000000 | signal.SIGCHLD, 0, 0, 0, 0)
    if result == 0:
        time.sleep(10)
        os._exit(0)
    return result
attempt("clone(CLONE_NEWUSER)", clone_new_user)
attempt("clone3", lambda: syscall({syscall_number("clone3")}, None, 0))
hold()
"""


def _mount_program(host: ProbeHost) -> str:
    mount = syscall_number("mount")
    return f"""
base = os.getcwd()
for name in ["ponder-mnt", "ponder-bind", "ponder-proc"]:
    os.makedirs(os.path.join(base, name), exist_ok=True)
def mount(source, target, fstype, flags):
    return syscall({mount}, source, os.path.join(base, target).encode(), fstype, flags, None)
attempt("mount tmpfs", lambda: mount(b"tmpfs", "ponder-mnt", b"tmpfs", 0))
attempt("bind /", lambda: mount(b"/", "ponder-bind", None, 4096 | 16384))
attempt("mount proc", lambda: mount(b"proc", "ponder-proc", b"proc", 0))
attempt("remount / read-write", lambda: syscall({mount}, None, b"/", None, 32, None))
attempt("fsopen", lambda: syscall({syscall_number("fsopen")}, b"tmpfs", 0))
attempt("open_tree", lambda: syscall({syscall_number("open_tree")}, -100, b"/", 1))
hold()
"""


def _mount_check(host: ProbeHost, observation: Observation) -> str | None:
    for view in observation.processes:
        mounted = [line.split()[4] for line in view.mountinfo.splitlines() if "ponder-" in line.split()[4]]
        if mounted:
            return f"mounted {mounted} (pid {view.pid})"
    return None


PROCESS_PROBES = (
    Probe("kill_host_process", "kill a process the host started", _kill_program, _kill_check),
    Probe("ptrace", "ptrace or read the memory of a host process", _ptrace_program, _ptrace_check),
    Probe("capabilities", "gain capabilities or root (setuid, capset, a setuid binary, a user namespace)",
          _capabilities_program, _identity_check),
    Probe("namespaces", "enter new namespaces (unshare, setns, clone with CLONE_NEW*)", _namespaces_program,
          _identity_check),
    Probe("mount", "mount a filesystem or remount / read-write", _mount_program, _mount_check),
)  # fmt: skip
