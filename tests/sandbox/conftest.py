"""Sandbox tests run real jails: each test that needs a tier is skipped, with the tier's own reason,
where this machine cannot run it (not root, no user namespaces, no Landlock...). Where the machine has
everything a tier needs but the tier's jail fails its own positive control, its tests fail instead: a
broken jail is not a machine without the feature."""

from __future__ import annotations

import asyncio

import pytest

from ponder.sandbox.jail import TIERS, TierName
from ponder.sandbox.tiers import TierStatus, tier_status

_statuses: dict[TierName, TierStatus] = {}


def status_of(tier: TierName) -> TierStatus:
    """Whether ``tier`` runs here (checked once per test session, with a real jail)."""
    if tier not in _statuses:
        _statuses[tier] = asyncio.run(tier_status(tier))
    return _statuses[tier]


def require(tier: TierName) -> TierName:
    """``tier``, or a skip where the machine lacks what it needs, or a failure where its jail is broken."""
    status = status_of(tier)
    if status.available:
        return tier
    if status.supported:
        pytest.fail(
            f"sandbox tier {tier} should run here but fails its own positive control: {status.reason}"
        )
    pytest.skip(f"sandbox tier {tier} is unavailable here: {status.reason}")


@pytest.fixture(params=TIERS)
def tier(request: pytest.FixtureRequest) -> TierName:
    return require(request.param)
