"""``ponder sandbox run`` and ``ponder sandbox check`` against real jails (skipped where none works)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from ponder.cli.main import cli
from ponder.sandbox import selftest, tier_status
from ponder.sandbox.jail import TIERS


@pytest.fixture
async def usable_tier() -> str:
    for tier in TIERS:
        if (await tier_status(tier)).available:
            return tier
    pytest.skip("no sandbox tier works on this machine")


def test_run_passes_stdin_and_returns_the_exit_code(usable_tier: str, tmp_path: Path) -> None:
    program = tmp_path / "prog.py"
    program.write_text(
        "import sys\nprint(sys.stdin.read().strip()[::-1])\nprint('oops', file=sys.stderr)\nexit(5)"
    )
    result = CliRunner().invoke(cli, ["sandbox", "run", str(program), "--skip-self-test"], input="stressed\n")
    assert result.exit_code == 5, result.output
    assert result.stdout == "desserts\n"
    assert "oops" in result.stderr


def test_check_exits_0_when_the_jail_holds_and_1_when_a_probe_escapes(
    usable_tier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selftest, "PROBES", selftest.PROBES[:2])
    runner = CliRunner()
    held = runner.invoke(cli, ["sandbox", "check", "--tier", usable_tier, "--quick", "--json"])
    assert held.exit_code == 0, held.output
    leaky = dataclasses.replace(selftest.PROBES[0], check=lambda host, observation: "pretend it got out")
    monkeypatch.setattr(selftest, "PROBES", (leaky,))
    escaped = runner.invoke(cli, ["sandbox", "check", "--tier", usable_tier, "--quick"])
    assert escaped.exit_code == 1
