"""What must hold for every process of a jail at any moment, checked by the host from /proc.

Whatever a probe tried, while its program holds the host checks that every process of the jail still
runs under the jail's uid and gid with no capabilities, with no_new_privs and (inside the jail) the
seccomp filter, untraced; that none holds a block device, an io_uring, a BPF object, a userfaultfd or
a perf event; that all of them share the jail's namespaces (tier 1: not the host's); and that the
jail's uid owns no kernel keys. ``violations()`` lists what does not hold; it changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import procs
from .base import Observation

__all__ = ["violations"]

_FORBIDDEN_FDS = (
    "anon_inode:[io_uring]",
    "anon_inode:bpf-map",
    "anon_inode:bpf-prog",
    "anon_inode:bpf_link",
    "anon_inode:[userfaultfd]",
    "anon_inode:[perf_event]",
    "/dev/userfaultfd",
)
_HELD_CAPABILITIES = ("CapInh", "CapPrm", "CapEff", "CapAmb")  # CapBnd only bounds what could be gained
_ISOLATED = ("net", "uts", "ipc", "pid", "user", "mnt", "cgroup")


def _keys_of(uid: int) -> int:
    try:
        lines = Path("/proc/key-users").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        owner, _, rest = line.partition(":")
        if owner.strip() == str(uid):
            return int(rest.split()[0])
    return 0


def violations(observation: Observation) -> list[str]:
    found = []
    uid = str(observation.uid)
    for view in observation.processes:
        who = f"pid {view.pid} ({view.status.get('Name', '?')})"
        if view.status.get("Uid", "").split() != [uid] * 4 or view.status.get("Gid", "").split() != [uid] * 4:
            found.append(f"{who} changed identity: uid {view.status.get('Uid')} gid {view.status.get('Gid')}")
        caps = {k: int(v, 16) for k, v in view.status.items() if k in _HELD_CAPABILITIES}
        if any(caps.values()):
            found.append(f"{who} holds capabilities {caps}")
        if view.status.get("NoNewPrivs") != "1":
            found.append(f"{who} can gain privileges (no_new_privs is off)")
        if not view.outer and view.status.get("Seccomp") != "2":
            found.append(f"{who} runs without the seccomp filter")
        if view.status.get("TracerPid", "0") != "0":
            found.append(f"{who} is traced by pid {view.status.get('TracerPid')}")
        found += [f"{who} holds block device {fd}" for fd in view.block_device_fds]
        found += [f"{who} holds {fd}" for fd in view.fds if fd.startswith(_FORBIDDEN_FDS)]
    inner = [v for v in observation.processes if not v.outer]
    host = procs.namespaces(os.getpid())
    for kind in _ISOLATED:
        # A process that has exited but is not yet reaped (a zombie) has given its namespaces back: its
        # /proc/PID/ns links for net, uts, ipc, mnt and cgroup are gone, which is not a namespace of its own.
        seen = {v.namespaces[kind] for v in inner if kind in v.namespaces}
        if len(seen) > 1:
            found.append(f"a process of the jail entered a {kind} namespace of its own")
        if observation.tier == "bwrap" and host.get(kind) in seen:
            found.append(f"the jail shares the host's {kind} namespace")
    keys = _keys_of(observation.uid)
    if keys:
        found.append(f"the jail's uid owns {keys} kernel key(s)")
    return found
