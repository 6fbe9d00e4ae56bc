import resource

import pytest

from ponder.sandbox import Limits
from ponder.sandbox.limits import MIB


def test_defaults_are_the_documented_ones() -> None:
    limits = Limits()
    assert (limits.processes, limits.memory_bytes, limits.wall_s) == (64, 512 * MIB, 10.0)
    assert (limits.output_bytes, limits.tmpfs_bytes) == (1 * MIB, 64 * MIB)


def test_rlimits_cover_processes_memory_cpu_files_and_cores() -> None:
    limits = {which: (soft, hard) for which, soft, hard in Limits(cpu_s=3).rlimits()}
    assert limits[resource.RLIMIT_NPROC] == (64, 64)
    assert limits[resource.RLIMIT_AS] == (512 * MIB, 512 * MIB)
    assert limits[resource.RLIMIT_CPU] == (3, 4)
    assert limits[resource.RLIMIT_FSIZE] == (64 * MIB, 64 * MIB)
    assert limits[resource.RLIMIT_NOFILE] == (256, 256)
    assert limits[resource.RLIMIT_CORE] == (0, 0)


@pytest.mark.parametrize("bad", [{"wall_s": 0}, {"memory_bytes": -1}, {"processes": 1}, {"open_files": 3}])
def test_nonsense_limits_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Limits(**bad)  # type: ignore[arg-type]
