"""Landlock through raw syscalls (ctypes): the ABI probe and the filesystem/network ruleset of tier 2.

``abi_version()`` asks the kernel which Landlock ABI it implements (0: none). ``LandlockPlan`` describes
what the jailed process may touch: read and execute beneath the interpreter's directories and /usr, read
and write beneath its private directory, and a few device files; with ABI 4 and later no TCP bind or
connect, with ABI 6 and later no abstract unix sockets and no signals outside the domain.
``LandlockPlan.restrict_self()`` runs in the forked child, after it has dropped to its uid and set
no_new_privs, and cannot be undone. The module does not decide when Landlock is used (``tiers.py``).
"""

from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass

__all__ = ["LandlockPlan", "abi_version", "landlock_problem"]

_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1

# Filesystem access rights, by the ABI that introduced them.
_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_FS_MAKE_CHAR = 1 << 6
_FS_MAKE_BLOCK = 1 << 11
_NET_ALL = (1 << 0) | (1 << 1)  # BIND_TCP, CONNECT_TCP (ABI 4)
_SCOPE_ALL = (1 << 0) | (1 << 1)  # ABSTRACT_UNIX_SOCKET, SIGNAL (ABI 6)

_READ_ONLY = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The Landlock ABI version this kernel offers, or 0 when Landlock is absent or disabled."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def landlock_problem() -> str | None:
    """Why Landlock cannot be used here (None when the kernel offers it)."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    if version >= 1:
        return None
    err = ctypes.get_errno()
    reason = {
        errno.ENOSYS: "the kernel was built without Landlock",
        errno.EOPNOTSUPP: "Landlock is built in but not enabled (add landlock to the lsm= boot parameter)",
    }.get(err, os.strerror(err))
    return f"landlock_create_ruleset(LANDLOCK_CREATE_RULESET_VERSION) failed: {reason}"


def _handled_fs(abi: int) -> int:
    rights = _FS_ABI1
    if abi >= 2:
        rights |= _FS_REFER
    if abi >= 3:
        rights |= _FS_TRUNCATE
    if abi >= 5:
        rights |= _FS_IOCTL_DEV
    return rights


@dataclass(frozen=True)
class LandlockPlan:
    """Which paths the jailed process may use, and how. Paths are absolute; missing ones are skipped."""

    abi: int
    read_only: tuple[str, ...]
    """Directories (or files) to read and execute beneath: /usr, the interpreter, site-packages."""
    read_write: tuple[str, ...]
    """Directories to read, write, create and delete beneath: the private working directory."""
    devices: tuple[str, ...] = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
    """Device files to read and write (writes to /dev/null are what programs expect)."""

    def restrict_self(self) -> None:
        """Build the ruleset and enforce it on the calling process (needs no_new_privs already set)."""
        libc = _libc()
        libc.syscall.restype = ctypes.c_long
        handled = _handled_fs(self.abi)
        attr = _RulesetAttr(handled, _NET_ALL if self.abi >= 4 else 0, _SCOPE_ALL if self.abi >= 6 else 0)
        size = 8 if self.abi < 4 else 16 if self.abi < 6 else 24
        ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
        if ruleset < 0:
            raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
        try:
            writable = handled & ~(_FS_MAKE_CHAR | _FS_MAKE_BLOCK)
            for paths, rights in (
                (self.read_only, _READ_ONLY),
                (self.read_write, writable),
                (self.devices, _FS_READ_FILE | _FS_WRITE_FILE),
            ):
                for path in paths:
                    self._add_rule(libc, int(ruleset), path, rights & handled)
            if libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), 0) != 0:
                raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
        finally:
            os.close(int(ruleset))

    @staticmethod
    def _add_rule(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            if not os.path.isdir(path):
                rights &= _FILE_RIGHTS
            rule = _PathBeneathAttr(rights, fd)
            if libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), _RULE_PATH_BENEATH, ctypes.byref(rule), 0):
                raise OSError(ctypes.get_errno(), f"landlock_add_rule({path}) failed")
        finally:
            os.close(fd)
