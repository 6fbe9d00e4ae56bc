from __future__ import annotations

from ponder.store import open_database
from ponder.store.limits import RateLimiter


def limiter() -> RateLimiter:
    return RateLimiter(open_database(":memory:"))


def test_burst_takes_exactly_the_limit_then_one_per_interval() -> None:
    rl = limiter()
    decisions = [rl.admit("k", 60, 1, now=1000.0) for _ in range(120)]
    assert sum(d.allowed for d in decisions) == 60
    refused = decisions[60]
    assert not refused.allowed and 0 < refused.retry_after_s <= 1.0 and refused.remaining == 0
    assert not rl.admit("k", 60, 1, now=1000.5).allowed
    assert rl.admit("k", 60, 1, now=1001.0).allowed  # one interval later, one more
    assert rl.admit("k", 60, 1, now=1100.0).remaining == 59  # a minute idle: the whole limit again


def test_costs_are_prices() -> None:
    rl = limiter()
    assert rl.admit("k", 10, 4, now=0.0).remaining == 6
    assert rl.admit("k", 10, 4, now=0.0).remaining == 2
    refused = rl.admit("k", 10, 4, now=0.0)
    assert not refused.allowed and refused.remaining == 2
    assert rl.admit("k", 10, 2, now=0.0).allowed


def test_keys_are_independent_and_none_is_unlimited() -> None:
    rl = limiter()
    assert rl.admit("a", 1, 1, now=0.0).allowed
    assert not rl.admit("a", 1, 1, now=0.0).allowed
    assert rl.admit("b", 1, 1, now=0.0).allowed
    assert all(rl.admit("c", None, 100, now=0.0).allowed for _ in range(5))


def test_tokens_per_day_reset_at_midnight_utc() -> None:
    rl = limiter()
    noon = 1_700_000_000.0 - (1_700_000_000 % 86400) + 43200
    rl.charge_tokens("k", 70, now=noon)
    rl.charge_tokens("k", 40, now=noon)
    left, reset = rl.tokens_left("k", 100, now=noon)
    assert left == 0 and reset == 43200
    assert rl.tokens_left("k", 100, now=noon + 43200)[0] == 100
    assert rl.tokens_left("k", None, now=noon)[0] is None
