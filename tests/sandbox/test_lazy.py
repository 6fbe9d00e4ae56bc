"""LazySandbox: nothing starts until the first program; an unavailable sandbox is reported once."""

from __future__ import annotations

import pytest

from ponder.errors import SandboxUnavailableError
from ponder.sandbox import Limits, tiers
from ponder.sandbox import lazy as lazy_module
from ponder.sandbox.jail import TierName
from ponder.sandbox.lazy import LazySandbox


async def test_nothing_starts_before_the_first_program(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []

    async def start(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("started")

    monkeypatch.setattr(lazy_module.Sandbox, "start", start)
    sandbox = LazySandbox()
    await sandbox.aclose()
    assert calls == [] and not sandbox.started


async def test_the_first_program_starts_it_and_later_ones_reuse_it(tier: TierName) -> None:
    sandbox = LazySandbox(Limits(wall_s=5), pool_size=1, tier=tier)
    try:
        assert (await sandbox.run("print(6 * 7)")).stdout == "42\n"
        assert sandbox.started
        assert (await sandbox.run("import sys; print(sys.stdin.read())", stdin="hi")).stdout == "hi\n"
    finally:
        await sandbox.aclose()
    assert not sandbox.started


async def test_an_unavailable_sandbox_refuses_every_program_and_says_why_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tiers, "_verified", {})
    monkeypatch.setattr(tiers, "static_problem", lambda tier: f"{tier} is switched off for this test")
    heard: list[SandboxUnavailableError] = []
    sandbox = LazySandbox(on_unavailable=heard.append)
    for _ in range(2):
        with pytest.raises(SandboxUnavailableError, match="switched off"):
            await sandbox.run("print(1)")
    assert len(heard) == 1 and not sandbox.started
    await sandbox.aclose()
