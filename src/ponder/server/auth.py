"""Who is asking, and whether they may: API keys (``Authorization: Bearer pk-...``) and per-key limits.

A key names an account and a tier. The OpenAI ``user`` field names an end user inside that account, so all
data is scoped by (account, user). Without a key, a request is refused (401), unless the config allows the
local single-user default (``server.allow_local_without_key``, loopback only): it is then account "local".
A UCP agent credential (store/keys.py) is refused here (403) unless the route is a UCP one
(``agent_ok=True``): an outside shopping agent never reaches the account's /v1 routes.

``admit`` is called once per request, failed ones included: the request's cost is its mode's price in the
key's tier, taken from the key's requests per minute; a day's tokens spent also refuses (429). Every 429
carries Retry-After and the remaining/reset headers; so does every admitted response. ``admission`` also
says what the day has left, which caps what a turn may generate (see ponder.models.metered).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from ponder.config import TierConfig
from ponder.server.errors import ApiError
from ponder.server.state import ServerState
from ponder.store.keys import KEY_PREFIX
from ponder.store.limits import Decision, RateLimiter

__all__ = ["LOCAL_ACCOUNT", "Admission", "Principal", "admission", "admit", "authenticate"]

LOCAL_ACCOUNT = "local"


@dataclass(frozen=True)
class Principal:
    account: str
    key_id: str
    tier_name: str
    tier: TierConfig
    user: str | None = None  # the end user inside the account (OpenAI ``user``), once the body is read
    agent_profile: str | None = None  # a UCP agent credential's platform profile; None for an account key


async def authenticate(state: ServerState, authorization: str | None, *, agent_ok: bool = False) -> Principal:
    """The key's principal (``identify``, in a worker thread); a UCP agent credential only where
    ``agent_ok`` (the UCP routes)."""
    return await asyncio.to_thread(identify, state, authorization, agent_ok=agent_ok)


def identify(state: ServerState, authorization: str | None, *, agent_ok: bool = False) -> Principal:
    """``authenticate``, blocking (the key is looked up in the database): for a worker thread that goes on
    with the request's other blocking work (the chat route's parsing)."""
    server = state.settings.server
    if server.allow_local_without_key and not _ponder_key(authorization):
        # OpenAI clients insist on sending some key: in local mode, one that is not a Ponder key is no key.
        authorization = None
    if not authorization:
        if server.allow_local_without_key:
            name = server.local_tier
            tier = TierConfig() if name == "unlimited" and name not in server.tiers else _tier(state, name)
            return Principal(LOCAL_ACCOUNT, LOCAL_ACCOUNT, name, tier)
        raise _unauthorized("No API key: send it as 'Authorization: Bearer pk-...' (`ponder keys create`).")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("The Authorization header must be 'Bearer <API key>'.")
    key = state.keys.authenticate(secret.strip())
    if key is None:
        raise _unauthorized("The API key is not valid, or it was revoked.")
    if key.is_agent and not agent_ok:
        raise ApiError(
            403,
            "This key is a shopping agent's credential: it works only on the UCP routes (/ucp/...).",
            "permission_error",
            "agent_credential",
        )
    return Principal(
        key.account,
        key.id,
        key.tier,
        _tier(state, key.tier),
        agent_profile=key.profile if key.is_agent else None,
    )


def _ponder_key(authorization: str | None) -> bool:
    if not authorization:
        return False
    return authorization.partition(" ")[2].strip().startswith(KEY_PREFIX)


def _tier(state: ServerState, name: str) -> TierConfig:
    tier = state.settings.server.tiers.get(name)
    if tier is None:
        raise ApiError(
            403,
            f"This key's tier '{name}' is not in the server's configuration: ask the operator to add "
            "[server.tiers." + name + "] or to move the key to another tier.",
            "permission_error",
            "unknown_tier",
        )
    return tier


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401, message, "invalid_request_error", "invalid_api_key", headers={"WWW-Authenticate": "Bearer"}
    )


@dataclass(frozen=True)
class Admission:
    headers: dict[str, str]  # the rate-limit headers for the response
    tokens_left: int | None  # of the key's day, before this request; None: no daily limit


async def admit(state: ServerState, principal: Principal, cost: float) -> dict[str, str]:
    """Take ``cost`` from the key's limits, or raise 429; return the rate-limit headers for the response."""
    return (await admission(state, principal, cost)).headers


async def admission(state: ServerState, principal: Principal, cost: float) -> Admission:
    """``admit``, also saying how many tokens the key's day has left (a turn's generation is capped by it)."""
    tier = principal.tier
    decision = await state.limiter.admit(principal.key_id, tier.requests_per_minute, cost)
    headers = _requests_headers(state, principal, cost, decision)
    left, reset = await state.limiter.tokens_left(principal.key_id, tier.tokens_per_day)
    return _tokens_admission(state, principal, headers, left, reset)


def admission_now(state: ServerState, principal: Principal, cost: float) -> Admission | None:
    """``admission``, blocking, where the limiter answers in the calling thread (the database's); None
    where it does not (Redis): then call ``admission``."""
    limiter = state.limiter
    if not isinstance(limiter, RateLimiter):
        return None
    tier = principal.tier
    decision = limiter.admit_now(principal.key_id, tier.requests_per_minute, cost)
    headers = _requests_headers(state, principal, cost, decision)
    left, reset = limiter.tokens_left_now(principal.key_id, tier.tokens_per_day)
    return _tokens_admission(state, principal, headers, left, reset)


def _requests_headers(
    state: ServerState, principal: Principal, cost: float, decision: Decision
) -> dict[str, str]:
    """The rate-limit headers of the minute's decision; a 429 if it refused."""
    headers: dict[str, str] = {}
    if decision.limit is not None:
        headers["x-ratelimit-limit-requests"] = str(decision.limit)
        headers["x-ratelimit-remaining-requests"] = str(decision.remaining)
        headers["x-ratelimit-reset-requests"] = f"{decision.reset_s:.3f}s"
    if not decision.allowed:
        state.metrics.rejected.labels("rate_limit").inc()
        headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after_s)))
        raise ApiError(
            429,
            f"Rate limit reached: {decision.reason} for tier '{principal.tier_name}' (this request costs "
            f"{cost:g}). Retry after {decision.retry_after_s:.1f} s.",
            "rate_limit_error",
            "rate_limit_exceeded",
            headers=headers,
        )
    return headers


def _tokens_admission(
    state: ServerState, principal: Principal, headers: dict[str, str], left: int | None, reset: float
) -> Admission:
    """The admission with the day's tokens in its headers; a 429 if they are spent."""
    tier = principal.tier
    if left is not None:
        headers["x-ratelimit-limit-tokens"] = str(tier.tokens_per_day)
        headers["x-ratelimit-remaining-tokens"] = str(left)
        headers["x-ratelimit-reset-tokens"] = f"{reset:.0f}s"
        if left <= 0:
            state.metrics.rejected.labels("tokens").inc()
            headers["Retry-After"] = str(max(1, math.ceil(reset)))
            raise ApiError(
                429,
                f"Daily tokens spent: {tier.tokens_per_day} tokens per day for tier '{principal.tier_name}'. "
                "The count starts again at 00:00 UTC.",
                "rate_limit_error",
                "tokens_exceeded",
                headers=headers,
            )
    return Admission(headers, left)
