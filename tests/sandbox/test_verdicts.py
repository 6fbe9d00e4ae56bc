"""The host-side verdicts on observations that show an escape: each one must say so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ponder.sandbox import RunResult
from ponder.sandbox.probes import PROBES, Observation, ProbeHost
from ponder.sandbox.probes.base import ProcessView
from ponder.sandbox.probes.files import MARKER
from ponder.sandbox.probes.invariants import violations

_BY_NAME = {p.name: p for p in PROBES}
UID = 1_599_999_999


@pytest.fixture
def host() -> Iterator[ProbeHost]:
    bait = ProbeHost()
    yield bait
    bait.close()


def observation(stdout: str = "", processes: list[ProcessView] | None = None, **kw: object) -> Observation:
    result = RunResult(stdout, "", 0, False, False, 0.1)
    return Observation("bwrap", UID, result, True, processes or [], **kw)  # type: ignore[arg-type]


def view(**changes: object) -> ProcessView:
    ids = "\t".join([str(UID)] * 4)
    status = {"Name": "python3", "Uid": ids, "Gid": ids, "CapEff": "0", "CapPrm": "0", "CapInh": "0",
              "CapAmb": "0", "NoNewPrivs": "1", "Seccomp": "2", "TracerPid": "0"}  # fmt: skip
    namespaces = {k: f"{k}:[1]" for k in ("net", "uts", "ipc", "pid", "user", "mnt", "cgroup")}
    fields: dict[str, object] = dict(pid=10, outer=False, status=status, fds=[], block_device_fds=[],
                                     namespaces=namespaces, mountinfo="")  # fmt: skip
    for key, value in changes.items():
        if key in status:
            status[key] = value  # type: ignore[assignment]
        else:
            fields[key] = value
    return ProcessView(**fields)  # type: ignore[arg-type]


def test_a_clean_jail_has_no_violations() -> None:
    assert violations(observation(processes=[view(), view(pid=11)])) == []


def test_a_zombie_that_gave_its_namespaces_back_is_no_escape() -> None:
    # An exited, unreaped process keeps only its pid and user namespace links in /proc/PID/ns.
    zombie = view(pid=11, namespaces={"pid": "pid:[1]", "user": "user:[1]"})
    assert violations(observation(processes=[view(), zombie])) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"Uid": "0\t0\t0\t0"},
        {"CapEff": "1fffeffffff"},
        {"NoNewPrivs": "0"},
        {"Seccomp": "0"},
        {"TracerPid": "4242"},
        {"block_device_fds": ["/dev/vda"]},
        {"fds": ["anon_inode:[io_uring]"]},
        {"fds": ["anon_inode:bpf-map"]},
        {"fds": ["anon_inode:[userfaultfd]"]},
        {"fds": ["anon_inode:[perf_event]"]},
        {"namespaces": {"net": "net:[2]"}},
    ],
)
def test_each_invariant_catches_its_breach(changes: dict[str, object]) -> None:
    assert violations(observation(processes=[view(), view(pid=11, **changes)]))


def test_file_verdicts_catch_leaks(host: ProbeHost) -> None:
    assert _BY_NAME["host_secret"].check(host, observation(f"ponder-secret-{host.token}"))
    assert _BY_NAME["proc_environ"].check(host, observation(host.canary))
    (host.open_dir / MARKER).write_text("escaped")
    assert _BY_NAME["write_outside"].check(host, observation())
    holder = view(fds=[str(host.secret_path)])
    assert _BY_NAME["host_secret"].check(host, observation(processes=[holder]))


def test_network_verdicts_catch_arrivals(host: ProbeHost) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", host.tcp_port)):
        assert _BY_NAME["tcp_connect"].check(host, observation())
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", host.udp_port))
    assert _BY_NAME["udp_send"].check(host, observation())
    client = socket.socket(socket.AF_UNIX)
    client.connect(host.abstract_name)
    assert _BY_NAME["unix_connect"].check(host, observation())
    client.close()


def test_process_verdicts_catch_a_dead_victim_and_a_mount(host: ProbeHost) -> None:
    line = "1 2 0:3 / /tmp/ponder-mnt rw - tmpfs tmpfs rw"
    assert _BY_NAME["mount"].check(host, observation(processes=[view(mountinfo=line)]))
    host.victim.kill()
    host.victim.wait()
    assert _BY_NAME["kill_host_process"].check(host, observation())
