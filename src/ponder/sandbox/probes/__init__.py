"""The escape probes: each one a way out of the jail, tried from inside and judged from the host.

``PROBES`` lists them all: the host's files (shadow, a planted secret, process environments, writes
outside the writable place, raw disks), the network (TCP, UDP, unix sockets to host listeners), other
processes and privilege (kill, ptrace, capabilities, namespaces, mount), risky kernel interfaces (bpf,
io_uring, keyrings, userfaultfd, perf events) and resources (fork, thread and memory bombs, a CPU
loop, a disk fill, descriptor exhaustion, an output flood). ``run_probe`` runs one in a fresh jail.

    base.py        Probe (a program and the host's verdict), Observation, ProbeResult
    host.py        ProbeHost: the bait the host sets out, and what it sees of a live jail
    runner.py      run_probe: one probe in a fresh jail, judged from the host
    invariants.py  what must hold for every process of a jail at any moment, read from /proc
    files.py, network.py, processes.py, kernel.py, resources.py   the probes, by what they reach for
"""

from __future__ import annotations

from .base import Observation, Probe, ProbeResult
from .files import FILE_PROBES
from .host import ProbeHost
from .kernel import KERNEL_PROBES
from .network import NETWORK_PROBES
from .processes import PROCESS_PROBES
from .resources import PROBE_LIMITS, RESOURCE_PROBES
from .runner import run_probe

__all__ = ["PROBES", "PROBE_LIMITS", "Observation", "Probe", "ProbeHost", "ProbeResult", "run_probe"]

PROBES: tuple[Probe, ...] = (
    *FILE_PROBES,
    *NETWORK_PROBES,
    *PROCESS_PROBES,
    *KERNEL_PROBES,
    *RESOURCE_PROBES,
)
