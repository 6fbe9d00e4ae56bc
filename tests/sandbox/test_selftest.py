from __future__ import annotations

import dataclasses

import pytest

from ponder.errors import SandboxUnavailableError
from ponder.sandbox import selftest
from ponder.sandbox.jail import TierName
from ponder.sandbox.probes import PROBES


async def test_quick_self_test_reports_tier_control_and_every_quick_probe(tier: TierName) -> None:
    seen = []
    report = await selftest.self_test(tier, quick=True, on_probe=seen.append)
    assert report.tier == tier and report.control_passed and report.holds
    assert [p.name for p in report.probes] == [p.name for p in PROBES if p.quick] == [p.name for p in seen]
    assert report.cgroups


async def test_startup_check_refuses_a_jail_that_lets_a_probe_out(
    tier: TierName, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaky = dataclasses.replace(PROBES[0], check=lambda host, observation: "pretend it got out")
    monkeypatch.setattr(selftest, "PROBES", (leaky,))
    monkeypatch.setattr(selftest, "_startup_reports", {})
    with pytest.raises(SandboxUnavailableError, match="pretend it got out"):
        await selftest.startup_check(tier)
