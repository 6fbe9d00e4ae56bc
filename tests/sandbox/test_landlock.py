import subprocess
import sys
import textwrap

import pytest

from ponder.sandbox.landlock import abi_version, landlock_problem

_CHILD = textwrap.dedent(
    """
    import ctypes, os, sys
    from ponder.sandbox.landlock import LandlockPlan, abi_version
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(38, 1, 0, 0, 0) == 0  # no_new_privs
    allowed = sys.argv[1]
    LandlockPlan(abi_version(), (sys.base_prefix, "/usr"), (allowed,)).restrict_self()
    with open(os.path.join(allowed, "inside"), "w") as f:
        f.write("ok")
    for path in ("/etc/hostname", "/etc/passwd"):
        try:
            open(path).read()
        except PermissionError:
            continue
        sys.exit("read " + path)
    try:
        open("/tmp/ponder-landlock-outside", "w")
    except PermissionError:
        print("contained")
    """
)


def test_abi_probe_agrees_with_the_problem_report() -> None:
    assert (abi_version() >= 1) == (landlock_problem() is None)


def test_ruleset_confines_the_filesystem(tmp_path: object) -> None:
    problem = landlock_problem()
    if problem:
        pytest.skip(f"Landlock is unavailable here: {problem}")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "contained"
