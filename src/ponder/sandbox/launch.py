"""What a jail's first process does between fork and exec, as root, before it becomes the jail.

``ChildSetup`` is the ``preexec_fn`` of the jail's subprocess. In order, it:

1. shows the jail the host directories it needs but an unprivileged uid cannot reach (this machine's
   interpreter lives under /root, mode 0700): in a private mount namespace of this child only, a small
   read-only tmpfs covers each unreachable ancestor and the needed directories are bind-mounted back
   read-only at their own paths. The host's mounts and permissions are untouched;
2. joins the jail's cgroups (writes ``0`` to their ``cgroup.procs``);
3. drops to the jail's dedicated uid and gid, with no supplementary groups, and asks for SIGKILL when
   the host dies;
4. in tier 2 only: sets no_new_privs, enforces the Landlock ruleset, and loads the seccomp filter
   (in tier 1 bubblewrap does the last two from inside its namespaces);
5. sets the rlimits, last, so that the memory limit cannot trip this forked copy of the host.

Any failure is written to the child's stderr and the child exits 126 without exec'ing: the host sees
a jail that never became ready, with the reason. Everything the child needs is computed in the parent
(paths as bytes, the libc handle), so the child imports nothing and allocates little.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import signal
import stat
from dataclasses import dataclass

from .landlock import LandlockPlan
from .seccomp import load_filter

__all__ = ["ChildSetup", "hidden_ancestor"]

_CLONE_NEWNS = 0x00020000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
    return libc


def hidden_ancestor(path: str) -> str | None:
    """The outermost directory on the way to ``path`` that other users may not search, if any."""
    current = "/"
    for part in [p for p in path.split("/") if p][:-1]:
        current = os.path.join(current, part)
        if not os.stat(current).st_mode & stat.S_IXOTH:
            return current
    return None


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


@dataclass(frozen=True)
class ChildSetup:
    uid: int
    rlimits: tuple[tuple[int, int, int], ...]
    cgroup_procs: tuple[bytes, ...] = ()
    exposed: tuple[str, ...] = ()
    """Directories to bind back (read-only) at their own paths, once their ancestors are covered."""
    covered: tuple[str, ...] = ()
    """The unreachable ancestors of ``exposed``, each covered by a tmpfs in the child's mount namespace."""
    landlock: LandlockPlan | None = None
    seccomp: bytes | None = None
    host_pid: int = 0

    @classmethod
    def create(
        cls,
        uid: int,
        rlimits: tuple[tuple[int, int, int], ...],
        *,
        cgroup_procs: tuple[bytes, ...] = (),
        needed: tuple[str, ...] = (),
        landlock: LandlockPlan | None = None,
        seccomp: bytes | None = None,
    ) -> ChildSetup:
        _libc()  # resolved in the parent: the child must not dlopen
        hidden = {p: hidden_ancestor(p) for p in needed}
        exposed = tuple(p for p, ancestor in hidden.items() if ancestor)
        covered = tuple(dict.fromkeys(a for a in hidden.values() if a))
        return cls(uid, rlimits, cgroup_procs, exposed, covered, landlock, seccomp, os.getpid())

    def __call__(self) -> None:
        try:
            self._setup()
        except BaseException as err:
            os.write(2, f"ponder sandbox: the jail could not be set up: {err}\n".encode(errors="replace"))
            os._exit(126)

    def _setup(self) -> None:
        libc = _libc()
        if self.exposed:
            self._expose(libc)
        for procs in self.cgroup_procs:
            fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        os.setgroups([])
        os.setresgid(self.uid, self.uid, self.uid)
        os.setresuid(self.uid, self.uid, self.uid)
        _check(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
        if os.getppid() != self.host_pid:
            os._exit(1)  # the host died before the death signal was armed
        if self.landlock is not None or self.seccomp is not None:
            _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        if self.landlock is not None:
            self.landlock.restrict_self()
        if self.seccomp is not None:
            load_filter(self.seccomp)
        for which, soft, hard in self.rlimits:
            resource.setrlimit(which, (soft, hard))

    def _expose(self, libc: ctypes.CDLL) -> None:
        _check(libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "making / private")
        # Opened after unshare, so that the bind sources are mounts of this namespace.
        fds = [os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for p in self.exposed]
        for ancestor in self.covered:
            flags, options = _MS_NOSUID | _MS_NODEV, b"mode=0755,size=64k"
            _check(libc.mount(b"tmpfs", ancestor.encode(), b"tmpfs", flags, options), f"covering {ancestor}")
        for path, fd in zip(self.exposed, fds, strict=True):
            current = ""
            for part in [p for p in path.split("/") if p]:
                current += "/" + part
                if not os.path.isdir(current):
                    os.mkdir(current)
                    os.chmod(current, 0o755)
            source = f"/proc/self/fd/{fd}".encode()
            _check(libc.mount(source, path.encode(), None, _MS_BIND | _MS_REC, None), f"binding {path}")
            flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
            _check(libc.mount(None, path.encode(), None, flags, None), f"read-only {path}")
            os.close(fd)
