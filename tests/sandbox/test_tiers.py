"""Choosing a tier: the strongest that works, and a loud warning when a weaker one stands in for it."""

from __future__ import annotations

import logging

import pytest

from ponder.sandbox import tiers
from ponder.sandbox.tiers import TierStatus, select_tier

from . import conftest


@pytest.fixture
def statuses(monkeypatch: pytest.MonkeyPatch) -> dict[str, TierStatus]:
    known: dict[str, TierStatus] = {}
    monkeypatch.setattr(tiers, "_verified", known)
    monkeypatch.setattr(tiers, "_warned", set())
    return known


async def test_a_broken_stronger_tier_is_reported_loudly(
    statuses: dict[str, TierStatus], caplog: pytest.LogCaptureFixture
) -> None:
    statuses["bwrap"] = TierStatus("bwrap", False, "the positive control failed", supported=True)
    statuses["landlock"] = TierStatus("landlock", True, "the positive control ran in a jail", supported=True)
    with caplog.at_level(logging.WARNING, logger="ponder.sandbox"):
        assert await select_tier() == "landlock"
        assert await select_tier() == "landlock"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per process, not per program
    assert "SANDBOX DEGRADED" in warnings[0] and "the positive control failed" in warnings[0]


async def test_a_machine_without_the_stronger_tier_gets_a_plain_warning(
    statuses: dict[str, TierStatus], caplog: pytest.LogCaptureFixture
) -> None:
    statuses["bwrap"] = TierStatus("bwrap", False, "user namespaces are disabled", supported=False)
    statuses["landlock"] = TierStatus("landlock", True, "the positive control ran in a jail", supported=True)
    with caplog.at_level(logging.WARNING, logger="ponder.sandbox"):
        assert await select_tier() == "landlock"
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "landlock tier, not the stronger bwrap tier" in warning and "DEGRADED" not in warning


async def test_the_strongest_tier_or_one_asked_for_warns_nothing(
    statuses: dict[str, TierStatus], caplog: pytest.LogCaptureFixture
) -> None:
    statuses["bwrap"] = TierStatus("bwrap", True, "the positive control ran in a jail", supported=True)
    statuses["landlock"] = TierStatus("landlock", True, "the positive control ran in a jail", supported=True)
    with caplog.at_level(logging.WARNING, logger="ponder.sandbox"):
        assert await select_tier() == "bwrap"
        assert await select_tier("landlock") == "landlock"
    assert not caplog.records


def test_the_tier_fixture_fails_a_supported_tier_whose_jail_is_broken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = TierStatus("bwrap", False, "the positive control failed", supported=True)
    monkeypatch.setitem(conftest._statuses, "bwrap", broken)
    with pytest.raises(pytest.fail.Exception, match="should run here but fails its own positive control"):
        conftest.require("bwrap")
    missing = TierStatus("bwrap", False, "user namespaces are disabled", supported=False)
    monkeypatch.setitem(conftest._statuses, "bwrap", missing)
    with pytest.raises(pytest.skip.Exception, match="unavailable here"):
        conftest.require("bwrap")
