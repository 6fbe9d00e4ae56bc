"""Both limit stores, the database and Redis, keep the same contract."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy

from ponder.store import open_database
from ponder.store.limits import Limiter, RateLimiter, gcra


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
async def limiter(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Limiter]:
    if request.param == "sqlite":
        yield RateLimiter(open_database(tmp_path / "p.db"))
        return
    if request.param == "postgresql":
        yield RateLimiter(open_database(request.getfixturevalue("postgres_url")))
        return
    from ponder.store.redis_limits import RedisLimiter

    store = RedisLimiter(request.getfixturevalue("redis_url"))
    yield store
    await store.aclose()


def key() -> str:
    return uuid.uuid4().hex  # Redis is shared by the tests of the session


async def test_a_burst_takes_exactly_the_limit(limiter: Limiter) -> None:
    k = key()
    decisions = [await limiter.admit(k, 60, 1) for _ in range(120)]  # well under a second: no refill
    assert sum(d.allowed for d in decisions) == 60
    refused = decisions[-1]
    assert not refused.allowed and 0 < refused.retry_after_s <= 1.0 and refused.remaining == 0


async def test_prices_and_keys_are_independent(limiter: Limiter) -> None:
    a, b = key(), key()
    assert (await limiter.admit(a, 10, 4)).remaining == 6
    assert (await limiter.admit(a, 10, 4)).remaining == 2
    assert not (await limiter.admit(a, 10, 4)).allowed
    assert (await limiter.admit(a, 10, 2)).allowed
    assert (await limiter.admit(b, 10, 4)).allowed
    assert all([(await limiter.admit(key(), None, 100)).allowed for _ in range(3)])


async def test_daily_tokens(limiter: Limiter) -> None:
    k = key()
    await limiter.charge_tokens(k, 70)
    await limiter.charge_tokens(k, 40)
    left, reset = await limiter.tokens_left(k, 100)
    assert left == 0 and 0 < reset <= 86400
    assert (await limiter.tokens_left(k, 1000))[0] == 890
    assert (await limiter.tokens_left(k, None))[0] is None


def test_gcra_refills_one_per_interval() -> None:
    tat = None
    now = 1000.0
    for _ in range(60):
        decision, tat = gcra(tat, now, 60, 1)
        assert decision.allowed
    refused, unchanged = gcra(tat, now, 60, 1)
    assert not refused.allowed and unchanged is None
    assert not gcra(tat, now + 0.5, 60, 1)[0].allowed
    assert gcra(tat, now + 1.0, 60, 1)[0].allowed
    assert gcra(tat, now + 100.0, 60, 1)[0].remaining == 59


async def test_tokens_reset_at_midnight_utc() -> None:
    rl = RateLimiter(open_database(":memory:"))
    noon = 1_700_000_000.0 - (1_700_000_000 % 86400) + 43200
    await rl.charge_tokens("k", 150, now=noon)
    assert await rl.tokens_left("k", 100, now=noon) == (0, 43200)
    assert (await rl.tokens_left("k", 100, now=noon + 43200))[0] == 100


async def test_redis_down_refuses_with_a_clear_error() -> None:
    from ponder.store.redis_limits import LimitStoreUnavailableError, RedisLimiter

    store = RedisLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(LimitStoreUnavailableError, match="cannot be reached"):
        await store.admit("k", 10, 1)
    await store.aclose()
    assert time.time() > 0


async def test_charges_are_gathered_and_written_in_one_transaction_that_others_then_see(
    tmp_path: Path,
) -> None:
    path = tmp_path / "p.db"
    here, there = RateLimiter(open_database(path)), RateLimiter(open_database(path))
    k = key()
    for _ in range(5):
        await here.charge_tokens(k, 10)
    assert (await here.tokens_left(k, 100))[0] == 50  # counted here at once
    commits: list[object] = []
    sqlalchemy.event.listen(here.db.engine, "commit", commits.append)
    await here.flush()
    assert len(commits) == 1  # five charges, one write
    assert (await there.tokens_left(k, 100))[0] == 50
    await here.charge_tokens(k, 7)
    await here.aclose()  # closing writes what is still owed
    assert (await there.tokens_left(k, 100))[0] == 43


async def test_owed_charges_are_written_soon_by_themselves(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    here, there = RateLimiter(open_database(path)), RateLimiter(open_database(path))
    k = key()
    await here.charge_tokens(k, 30)
    assert (await there.tokens_left(k, 100))[0] == 100  # not written yet
    assert here._writing is not None
    await asyncio.wait_for(here._writing, 10)  # falls due after CHARGE_EVERY_S
    assert (await there.tokens_left(k, 100))[0] == 70


async def test_a_failed_write_keeps_the_charges_owed(tmp_path: Path) -> None:
    limiter = RateLimiter(open_database(tmp_path / "p.db"))
    k = key()
    await limiter.charge_tokens(k, 25)
    with limiter.db.transaction() as db:
        db.execute(sqlalchemy.text("ALTER TABLE token_usage RENAME TO gone"))
    with pytest.raises(sqlalchemy.exc.OperationalError, match="token_usage"):
        await limiter.flush()
    assert sum(limiter._owed.values()) == 25  # still owed, to be written once the database takes it
