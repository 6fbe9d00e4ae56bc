"""Tier 1's command line: an interpreter that lives under /tmp stays visible above the jail's tmpfs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ponder.sandbox import Limits, jail
from ponder.sandbox.bwrap import bwrap_argv
from ponder.sandbox.interpreter import Interpreter, host_interpreter
from ponder.sandbox.worker import Worker

from .conftest import require


def test_the_interpreters_directories_are_bound_after_the_tmpfs() -> None:
    venv = "/tmp/venv-under-tmp"
    interpreter = Interpreter(f"{venv}/bin/python", ("/opt/python", venv), (f"{venv}/lib/site-packages",))
    argv = bwrap_argv("bwrap", interpreter, Limits(), seccomp_fd=3, status_fd=4)
    tmpfs = argv.index("--tmpfs")
    assert argv[tmpfs + 1] == "/tmp"
    for root in interpreter.roots:
        bind = next(i for i, a in enumerate(argv[:-1]) if a == "--ro-bind" and argv[i + 1] == root)
        assert bind > tmpfs, f"{root} is bound before the tmpfs that would hide it"
    assert argv.index("--remount-ro") > bind  # and the root is still made read-only after them


@pytest.fixture
def bwrap() -> None:
    require("bwrap")


async def test_a_site_directory_under_tmp_is_importable_in_the_bwrap_jail(
    bwrap: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A virtual environment under /tmp: its packages must not vanish under the jail's own /tmp."""
    assert str(tmp_path).startswith("/tmp/")
    site = tmp_path / "venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    (site / "from_tmp.py").write_text("ANSWER = 42\n")
    host = host_interpreter()
    venv = dataclasses.replace(
        host, roots=(*host.roots, str(tmp_path / "venv")), site_dirs=(str(site), *host.site_dirs)
    )
    monkeypatch.setattr(jail, "host_interpreter", lambda: venv)
    worker = await Worker.start("bwrap", Limits(wall_s=10))
    try:
        result = await worker.run("import from_tmp, numpy\nprint(from_tmp.ANSWER)")
    finally:
        await worker.close()
    assert (result.exit_code, result.stdout) == (0, "42\n"), result.stderr
