"""Every escape probe, in every tier this machine supports, judged from the host.

The first test is the real thing: no probe may get out. The others show that each verdict can fail:
run against a jail loosened on purpose (more processes, memory, output or disk than the limit the
verdict holds it to; or seccomp and Landlock switched off), the same probe must report the escape.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator

import pytest

from ponder.sandbox import jail
from ponder.sandbox.jail import TierName
from ponder.sandbox.landlock import LandlockPlan
from ponder.sandbox.limits import MIB
from ponder.sandbox.probes import PROBE_LIMITS, PROBES, Probe, ProbeHost, run_probe

_BY_NAME = {p.name: p for p in PROBES}


@pytest.fixture
def host() -> Iterator[ProbeHost]:
    bait = ProbeHost()
    yield bait
    bait.close()


def test_there_are_at_least_22_probes_with_distinct_names() -> None:
    assert len(PROBES) >= 22
    assert len(_BY_NAME) == len(PROBES)


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
async def test_no_probe_escapes(tier: TierName, probe: Probe, host: ProbeHost) -> None:
    result = await run_probe(probe, tier, host)
    assert not result.escaped, result.detail


_LOOSENED = {
    "fork_bomb": dataclasses.replace(PROBE_LIMITS, processes=160),
    "memory_bomb": dataclasses.replace(PROBE_LIMITS, memory_bytes=1024 * MIB),
    "output_flood": dataclasses.replace(PROBE_LIMITS, output_bytes=3 * MIB),
    "fd_exhaustion": dataclasses.replace(PROBE_LIMITS, open_files=1024),
    "cpu_loop": dataclasses.replace(PROBE_LIMITS, wall_s=2.5),
}


@pytest.mark.parametrize("name", sorted(_LOOSENED))
async def test_resource_verdicts_catch_a_jail_with_looser_limits(
    tier: TierName, name: str, host: ProbeHost
) -> None:
    probe = dataclasses.replace(_BY_NAME[name], limits=_LOOSENED[name])
    result = await run_probe(probe, tier, host)
    assert result.escaped, result.detail


async def test_disk_fill_verdict_catches_a_bigger_writable_place(host: ProbeHost) -> None:
    from .conftest import require

    require("bwrap")
    probe = dataclasses.replace(
        _BY_NAME["disk_fill"], limits=dataclasses.replace(PROBE_LIMITS, tmpfs_bytes=96 * MIB)
    )
    result = await run_probe(probe, "bwrap", host)
    assert result.escaped, result.detail


_ALLOW_ALL = struct.pack("<HBBI", 0x06, 0, 0, 0x7FFF0000)  # one BPF instruction: return ALLOW


@pytest.fixture
def loosened_landlock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tier 2 without its seccomp filter, and Landlock as of ABI 3 (no network or scope rules) granting the
    whole filesystem."""
    from .conftest import require

    require("landlock")
    monkeypatch.setattr(jail, "policy_bpf", lambda: _ALLOW_ALL)
    monkeypatch.setattr(jail, "LandlockPlan", lambda abi, ro, rw: LandlockPlan(3, (), ("/",)))


@pytest.mark.parametrize("name", ["host_secret", "write_outside", "tcp_connect", "udp_send", "unix_connect"])
async def test_file_and_network_verdicts_catch_a_jail_without_seccomp_and_landlock(
    loosened_landlock: None, name: str, host: ProbeHost
) -> None:
    result = await run_probe(_BY_NAME[name], "landlock", host)
    assert result.escaped, result.detail
