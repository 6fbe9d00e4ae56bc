"""The seccomp policy of the jail, compiled to a classic-BPF program with libseccomp.

One policy serves both tiers: bubblewrap loads it from a file descriptor (``--seccomp FD``) in tier 1,
and the tier-2 launcher loads it with ``prctl(PR_SET_SECCOMP)`` just before exec. Every syscall not named
here is allowed (the namespaces, Landlock, the dedicated uid and the rlimits do the rest); the named ones
fail with EPERM, so a program sees an ordinary error rather than dying. Syscalls of other ABIs (i386,
x32) kill the process outright.

Denied: every socket() (all families: the program talks to the host over stdin and stdout only), and
socketpair() for anything but AF_UNIX; ptrace and cross-process memory access; bpf; io_uring; the kernel
keyring; userfaultfd; new namespaces (unshare, setns, clone/clone3 with CLONE_NEW* flags); mounting and
changing roots; module loading, kexec, reboot, swap; perf_event_open; clock and hostname changes; handle
based opens; and the terminal-injection ioctls TIOCSTI/TIOCLINUX. This module only builds the filter: it
loads nothing into the calling process.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import socket
import tempfile

__all__ = ["DENIED_SYSCALLS", "SeccompUnavailable", "load_filter", "policy_bpf"]

DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "bpf", "perf_event_open", "userfaultfd", "fanotify_init", "lookup_dcookie",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key",
    "unshare", "setns",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "name_to_handle_at", "open_by_handle_at",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "syslog", "acct", "quotactl", "quotactl_fd", "uselib", "ustat", "sysfs",
    "_sysctl", "modify_ldt", "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "sethostname", "setdomainname", "vhangup", "nfsservctl", "personality",
    "socket",
)  # fmt: skip

# The CLONE_NEW* flags: clone() with any of them fails. clone3 passes its flags in memory, where a
# filter cannot look, so it fails with ENOSYS and the C library falls back to clone().
_CLONE_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
    0x00000080,  # CLONE_NEWTIME
)
_TIOCSTI = 0x5412
_TIOCLINUX = 0x541C


class SeccompUnavailable(RuntimeError):
    """libseccomp (or its ctypes binding) cannot be loaded, or the filter cannot be built."""


@functools.cache
def policy_bpf() -> bytes:
    """The compiled filter (a ``struct sock_filter`` array), built once per process."""
    try:
        import pyseccomp as sc  # type: ignore[import-untyped]
    except (ImportError, OSError) as err:  # the binding is missing, or libseccomp.so.2 is
        raise SeccompUnavailable(f"libseccomp cannot be loaded: {err}") from err
    eperm = sc.ERRNO(errno.EPERM)
    try:
        flt = sc.SyscallFilter(sc.ALLOW)
        flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
        for name in DENIED_SYSCALLS:
            if sc.resolve_syscall(sc.Arch.NATIVE, name) < 0:
                continue  # not a syscall of this architecture (iopl on arm64, say)
            flt.add_rule(eperm, name)
        for flag in _CLONE_NAMESPACE_FLAGS:
            flt.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
        flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        flt.add_rule(eperm, "socketpair", sc.Arg(0, sc.NE, socket.AF_UNIX))
        for request in (_TIOCSTI, _TIOCLINUX):
            flt.add_rule(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
        with tempfile.TemporaryFile() as out:
            flt.export_bpf(out)
            out.seek(0)
            program = out.read()
    except OSError as err:
        raise SeccompUnavailable(f"libseccomp could not build the filter: {err}") from err
    if not program or len(program) % 8:
        raise SeccompUnavailable("libseccomp exported an empty or malformed BPF program")
    return program


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def load_filter(program: bytes) -> None:
    """Install ``program`` on the calling process (no_new_privs first). Used in a forked child only."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_SECCOMP) failed: {os.strerror(err)}")
