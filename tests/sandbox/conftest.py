"""Sandbox tests run real jails: each test that needs a tier is skipped, with the tier's own reason,
where this machine cannot run it (not root, no user namespaces, no Landlock...)."""

from __future__ import annotations

import asyncio

import pytest

from ponder.sandbox.jail import TIERS, TierName
from ponder.sandbox.tiers import tier_status

_reasons: dict[TierName, str | None] = {}


def tier_problem(tier: TierName) -> str | None:
    """None when ``tier`` runs here (checked once per test session, with a real jail)."""
    if tier not in _reasons:
        status = asyncio.run(tier_status(tier))
        _reasons[tier] = None if status.available else status.reason
    return _reasons[tier]


@pytest.fixture(params=TIERS)
def tier(request: pytest.FixtureRequest) -> TierName:
    name: TierName = request.param
    problem = tier_problem(name)
    if problem:
        pytest.skip(f"sandbox tier {name} is unavailable here: {problem}")
    return name
