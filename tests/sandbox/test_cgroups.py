import os

import pytest

from ponder.sandbox import Limits
from ponder.sandbox.cgroups import JailCgroup, detect
from ponder.sandbox.limits import MIB


@pytest.fixture
def support():  # type: ignore[no-untyped-def]
    found = detect()
    if found.version is None:
        pytest.skip(f"no writable cgroup hierarchy here: {found.reason}")
    return found


def test_detection_names_the_hierarchy_and_controllers(support) -> None:  # type: ignore[no-untyped-def]
    assert support.version in (1, 2)
    assert set(support.controllers) <= {"pids", "memory", "cpu"}
    assert support.reason


def test_a_jail_cgroup_carries_the_limits_and_goes_away(support) -> None:  # type: ignore[no-untyped-def]
    cgroup = JailCgroup(support, Limits(processes=33, memory_bytes=100 * MIB, cpu_cores=0.5))
    try:
        if "pids" in cgroup.dirs:
            assert (cgroup.dirs["pids"] / "pids.max").read_text().strip() == "33"
        if "memory" in cgroup.dirs:
            name = "memory.limit_in_bytes" if cgroup.version == 1 else "memory.max"
            assert int((cgroup.dirs["memory"] / name).read_text()) == 100 * MIB
        if "cpu" in cgroup.dirs and cgroup.version == 1:
            assert (cgroup.dirs["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert cgroup.pids() == []
        assert all(os.path.exists(p) for p in cgroup.procs_files)
    finally:
        assert cgroup.remove()
    assert not any(d.exists() for d in cgroup.dirs.values())
