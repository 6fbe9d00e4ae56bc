"""Limits in Redis, shared by several ``ponder serve`` processes on several machines (``server.redis_url``).

The same GCRA as the database limiter, run as one Lua script so the read and the write are atomic on the
Redis server, with Redis's own clock (``TIME``) so servers with drifting clocks still agree. Daily tokens are
an ``INCRBY`` counter per key and UTC day that expires two days later. Keys live under ``ponder:``.
"""

from __future__ import annotations

import time
from dataclasses import replace

import redis.asyncio as redis
from redis.exceptions import RedisError

from ponder.errors import ModelUnavailableError
from ponder.store.limits import WINDOW_S, Decision, day_of, gcra

__all__ = ["LimitStoreUnavailableError", "RedisLimiter"]

# KEYS[1]: the key's TAT; ARGV: interval (s), cost, window (s). Returns {allowed, tat, now} as strings.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, cost, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + cost * interval
if new_tat - now > window + 1e-9 then
  return {'0', string.format('%.17g', tat), string.format('%.17g', now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {'1', string.format('%.17g', tat), string.format('%.17g', now)}
"""


class LimitStoreUnavailableError(ModelUnavailableError):
    """Redis, where the limits live, cannot be reached: requests are refused rather than let through."""


class RedisLimiter:
    def __init__(self, url: str) -> None:
        self.url = url
        self._redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._gcra = self._redis.register_script(_GCRA)

    async def admit(
        self, key_id: str, per_minute: int | None, cost: float, now: float | None = None
    ) -> Decision:
        if per_minute is None:
            return Decision(True, None, 0, 0.0, 0.0)
        interval = WINDOW_S / per_minute
        try:
            allowed, tat, server_now = await self._gcra(
                keys=[f"ponder:tat:{key_id}"], args=[interval, cost, WINDOW_S]
            )
        except RedisError as err:
            raise self._unavailable(err) from None
        # The script decided; the figures for the headers are worked out from the state it saw. At the very
        # edge of the window the two may round apart, and the script's word stands.
        decision, _ = gcra(float(tat), float(server_now), per_minute, cost)
        allowed_here = allowed in (b"1", "1")
        if decision.allowed != allowed_here:
            reason = "" if allowed_here else f"{per_minute} requests per minute"
            decision = replace(decision, allowed=allowed_here, retry_after_s=0.0, reason=reason)
        return decision

    async def tokens_left(
        self, key_id: str, per_day: int | None, now: float | None = None
    ) -> tuple[int | None, float]:
        day, reset = day_of(time.time() if now is None else now)
        if per_day is None:
            return None, reset
        try:
            used = await self._redis.get(f"ponder:tokens:{key_id}:{day}")
        except RedisError as err:
            raise self._unavailable(err) from None
        return max(0, per_day - int(used or 0)), reset

    async def charge_tokens(self, key_id: str, tokens: int, now: float | None = None) -> None:
        if tokens <= 0:
            return
        day, _ = day_of(time.time() if now is None else now)
        key = f"ponder:tokens:{key_id}:{day}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incrby(key, tokens)
                pipe.expire(key, 2 * 86400)
                await pipe.execute()
        except RedisError as err:
            raise self._unavailable(err) from None

    async def ping(self) -> None:
        """Whether Redis answers (``LimitStoreUnavailableError`` if not): readiness."""
        try:
            await self._redis.ping()
        except RedisError as err:
            raise self._unavailable(err) from None

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _unavailable(self, err: RedisError) -> LimitStoreUnavailableError:
        return LimitStoreUnavailableError(
            f"The rate-limit store (Redis at {self.url}) cannot be reached: {err}. Requests are refused "
            "until it is back."
        )
