"""The three-method boundary the rest of Ponder uses: start, run, aclose."""

from __future__ import annotations

import asyncio

import pytest

from ponder.errors import SandboxBusyError, SandboxUnavailableError, UserError
from ponder.sandbox import Limits, Sandbox, tiers
from ponder.sandbox import sandbox as sandbox_module
from ponder.sandbox.jail import TierName
from ponder.sandbox.worker import Worker


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


class JailCount:
    """Counts jails from outside the pool: from the start of ``Worker.start`` to the end of ``close``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.alive = self.peak = self.started = 0
        start, close = Worker.start.__func__, Worker.close  # type: ignore[attr-defined]

        async def counted_start(cls: type[Worker], *args: object, **kwargs: object) -> Worker:
            self.started += 1
            self.alive += 1
            self.peak = max(self.peak, self.alive)
            try:
                return await start(cls, *args, **kwargs)  # type: ignore[no-any-return]
            except BaseException:
                self.alive -= 1
                raise

        async def counted_close(worker: Worker) -> None:
            closed = worker._closed
            await close(worker)
            if not closed:
                self.alive -= 1

        monkeypatch.setattr(sandbox_module.Worker, "start", classmethod(counted_start))
        monkeypatch.setattr(sandbox_module.Worker, "close", counted_close)


async def test_many_programs_at_once_never_have_more_than_pool_size_jails_alive(
    tier: TierName, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve programs at once on a pool of two: they queue, and at no moment do more than two jails exist
    (starting, waiting, running or being torn down), nor more than two programs run."""
    jails = JailCount(monkeypatch)
    code = "import time\ntime.sleep(0.3)\nprint({})"
    async with await Sandbox.start(Limits(wall_s=10), pool_size=2, tier=tier, self_test=False) as sandbox:
        results = await asyncio.gather(*(sandbox.run(code.format(i)) for i in range(12)))
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(12)]
        assert (sandbox.peak_running, sandbox.peak_alive) == (2, 2)  # both jails ran: the rest waited
        assert sandbox.running == 0
    assert jails.peak == 2 and jails.started >= 12
    assert jails.alive == 0 and sandbox.alive == 0  # every jail torn down with the sandbox


async def test_a_program_that_waits_past_the_deadline_is_refused_and_not_run(tier: TierName) -> None:
    limits = Limits(wall_s=30)
    async with await Sandbox.start(limits, pool_size=1, tier=tier, self_test=False, wait_s=0.2) as sandbox:
        busy = asyncio.create_task(sandbox.run("import time; time.sleep(60)"))
        await asyncio.sleep(0)  # let it take the only jail
        assert sandbox.running == 1
        with pytest.raises(SandboxBusyError, match="1 sandbox jails stayed busy for 0.2 s"):
            await sandbox.run("print('never')")
        assert sandbox.running == 1 and sandbox.peak_running == 1
        busy.cancel()
        with pytest.raises(asyncio.CancelledError):
            await busy
        sandbox.wait_s = 30  # its replacement jail may take a while to start on a loaded machine
        assert (await sandbox.run("print('next')")).stdout == "next\n"  # the slot came back


async def test_closing_the_sandbox_tells_the_calls_waiting_for_a_jail(tier: TierName) -> None:
    sandbox = await Sandbox.start(Limits(wall_s=30), pool_size=1, tier=tier, self_test=False)
    busy = asyncio.create_task(sandbox.run("import time; time.sleep(60)"))
    await asyncio.sleep(0)  # it takes the only jail
    waiting = [asyncio.create_task(sandbox.run("print('never')")) for _ in range(2)]
    await asyncio.sleep(0)  # they queue for it
    await sandbox.aclose()
    for task in waiting:
        with pytest.raises(UserError, match="closed"):
            await task
    busy.cancel()
    with pytest.raises(asyncio.CancelledError):
        await busy
    await sandbox.aclose()  # and the jail the busy program had is torn down too
    assert sandbox.alive == 0


async def test_waiting_calls_get_the_jails_in_the_order_they_came(tier: TierName) -> None:
    order: list[int] = []
    async with await Sandbox.start(Limits(wall_s=10), pool_size=1, tier=tier, self_test=False) as sandbox:

        async def one(i: int) -> None:
            await sandbox.run("pass")
            order.append(i)

        await asyncio.gather(*(one(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]


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
