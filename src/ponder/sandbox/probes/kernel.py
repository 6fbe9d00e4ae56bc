"""Probes on risky kernel interfaces: bpf, io_uring, the keyring, userfaultfd and perf events.

Each program calls the syscall directly and keeps whatever descriptor it got; the jail invariants
(``invariants.py``) then look for such descriptors, and for kernel keys owned by the jail's uid.
"""

from __future__ import annotations

from .base import Observation, Probe, syscall_number
from .host import ProbeHost

__all__ = ["KERNEL_PROBES"]


def _invariants_only(host: ProbeHost, observation: Observation) -> str | None:
    return None


def _bpf_program(host: ProbeHost) -> str:
    bpf = syscall_number("bpf")
    return f"""
attr = (ctypes.c_uint32 * 32)(2, 4, 4, 1)  # BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
attempt("BPF_MAP_CREATE", lambda: syscall({bpf}, 0, attr, 128))
insns = (ctypes.c_uint64 * 2)(0x00000000000000b7, 0x0000000000000095)  # r0 = 0; exit
license = ctypes.create_string_buffer(b"GPL")
prog = (ctypes.c_uint64 * 16)()
ctypes.memmove(prog, (ctypes.c_uint32 * 4)(1, 2, 0, 0), 16)  # BPF_PROG_TYPE_SOCKET_FILTER, 2 insns
prog[1] = ctypes.addressof(insns)
prog[2] = ctypes.addressof(license)
attempt("BPF_PROG_LOAD", lambda: syscall({bpf}, 5, prog, 128))
hold()
"""


def _io_uring_program(host: ProbeHost) -> str:
    return f"""
params = ctypes.create_string_buffer(120)
attempt("io_uring_setup", lambda: syscall({syscall_number("io_uring_setup")}, 4, params))
attempt("io_uring_enter", lambda: syscall({syscall_number("io_uring_enter")}, 0, 0, 0, 0, None, 0))
hold()
"""


def _keyring_program(host: ProbeHost) -> str:
    return f"""
attempt("add_key to the process keyring", lambda: syscall({syscall_number("add_key")}, b"user",
        b"ponder-probe", b"secret", 6, -2))
attempt("add_key to the user keyring", lambda: syscall({syscall_number("add_key")}, b"user",
        b"ponder-probe", b"secret", 6, -4))
attempt("join a session keyring", lambda: syscall({syscall_number("keyctl")}, 1, b"ponder-probe"))
attempt("request_key", lambda: syscall({syscall_number("request_key")}, b"user", b"ponder-probe", None, 0))
hold()
"""


def _userfaultfd_program(host: ProbeHost) -> str:
    return f"""
attempt("userfaultfd", lambda: syscall({syscall_number("userfaultfd")}, os.O_CLOEXEC | os.O_NONBLOCK))
kept = []
attempt("open /dev/userfaultfd", lambda: kept.append(os.open("/dev/userfaultfd", os.O_RDWR)))
hold()
"""


def _perf_program(host: ProbeHost) -> str:
    perf = syscall_number("perf_event_open")
    return f"""
attr = (ctypes.c_uint32 * 32)(1, 128, 0, 0)  # PERF_TYPE_SOFTWARE, size 128, PERF_COUNT_SW_CPU_CLOCK
attempt("perf_event_open (this process)", lambda: syscall({perf}, attr, 0, -1, -1, 0))
attempt("perf_event_open (every process)", lambda: syscall({perf}, attr, -1, 0, -1, 0))
hold()
"""


KERNEL_PROBES = (
    Probe("bpf", "create a BPF map or load a BPF program", _bpf_program, _invariants_only),
    Probe("io_uring", "set up an io_uring", _io_uring_program, _invariants_only),
    Probe("keyctl", "add or request kernel keys, join a keyring", _keyring_program, _invariants_only),
    Probe("userfaultfd", "create a userfaultfd", _userfaultfd_program, _invariants_only),
    Probe("perf_event_open", "open a perf event", _perf_program, _invariants_only),
)
