"""The three-method boundary the rest of Ponder uses: start, run, aclose."""

from __future__ import annotations

import asyncio

import pytest

from ponder.errors import SandboxUnavailableError, UserError
from ponder.sandbox import Limits, Sandbox, tiers
from ponder.sandbox.jail import TierName


async def test_runs_programs_from_a_pool_and_replaces_used_jails(tier: TierName) -> None:
    async with await Sandbox.start(Limits(wall_s=5), pool_size=2, tier=tier, self_test=False) as sandbox:
        assert sandbox.tier == tier
        results = await asyncio.gather(*(sandbox.run(f"print({i} * {i})") for i in range(5)))
        assert [r.stdout for r in results] == [f"{i * i}\n" for i in range(5)]
        slow = await sandbox.run("while True: pass", timeout_s=0.5)
        assert slow.timed_out
        assert (await sandbox.run("print('after')")).stdout == "after\n"
    with pytest.raises(UserError):
        await sandbox.run("print(1)")


async def test_cancelling_a_run_leaves_the_sandbox_usable(tier: TierName) -> None:
    async with await Sandbox.start(pool_size=1, tier=tier, self_test=False) as sandbox:
        task = asyncio.create_task(sandbox.run("import time; time.sleep(60)"))
        await asyncio.sleep(0)  # let it take its jail
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await sandbox.run("print('still here')")).stdout == "still here\n"


async def test_start_runs_the_self_test_and_keeps_its_report(tier: TierName) -> None:
    async with await Sandbox.start(pool_size=1, tier=tier) as sandbox:
        report = sandbox.self_test_report
        assert report is not None and report.holds and report.tier == tier
        assert len(report.probes) >= 15


async def test_an_unknown_tier_is_refused() -> None:
    with pytest.raises(SandboxUnavailableError):
        await Sandbox.start(tier="chroot")  # type: ignore[arg-type]


async def test_without_a_working_tier_nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no tier works, start() refuses: it never falls back to an unjailed process."""
    monkeypatch.setattr(tiers, "_verified", {})
    monkeypatch.setattr(tiers, "static_problem", lambda tier: f"{tier} is switched off for this test")
    started: list[object] = []
    monkeypatch.setattr(tiers.Worker, "start", lambda *a, **k: started.append(a))
    with pytest.raises(SandboxUnavailableError) as raised:
        await Sandbox.start(self_test=False)
    assert "bwrap is switched off" in str(raised.value) and "landlock is switched off" in str(raised.value)
    assert started == []
