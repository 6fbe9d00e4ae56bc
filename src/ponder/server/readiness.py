"""Readiness (``GET /readyz``): whether this replica can serve a turn now, for a load balancer or
Kubernetes' readiness probe. ``/healthz`` stays a liveness check (the process answers).

Checked, each within ``TIMEOUT_S``, all at once:

- **database**: a query answers (SQLite file or PostgreSQL);
- **redis**: when ``[server] redis_url`` is set, Redis answers a PING (limits are refused without it);
- **model**: the default model's backend: an OpenAI-compatible engine lists the model (its ``/models``);
  an embedded model has its weights installed (loaded or not: the first turn loads it); the scripted
  model is always ready.

Any failure makes the replica unready (503) with what failed, so traffic goes to the others.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from ponder.models.embedded.backend import EmbeddedModel
from ponder.models.openai_compat import OpenAICompatibleModel
from ponder.server.state import ServerState
from ponder.store.database import sql

__all__ = ["TIMEOUT_S", "readiness"]

TIMEOUT_S: Final = 3.0


async def readiness(state: ServerState) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Whether the replica is ready, and each check's outcome (``ok``, ``detail``, ``ms``)."""
    checks = {"database": _database(state), "model": _model(state)}
    if state.settings.server.redis_url:
        checks["redis"] = _redis(state)
    names = list(checks)
    outcomes = await asyncio.gather(*(_timed(checks[n]) for n in names))
    found = dict(zip(names, outcomes, strict=True))
    return all(o["ok"] for o in found.values()), found


async def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check, TIMEOUT_S)
        ok = True
    except TimeoutError:
        ok, detail = False, f"no answer in {TIMEOUT_S:g} s"
    except Exception as err:  # a check that fails says why; the replica is unready, not broken
        ok, detail = False, f"{type(err).__name__}: {err}"
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


async def _database(state: ServerState) -> str:
    def ping() -> None:
        with state.db.reading() as db:
            db.execute(sql("SELECT 1")).scalar_one()

    await asyncio.to_thread(ping)
    return state.db.dialect


async def _redis(state: ServerState) -> str:
    ping = getattr(state.limiter, "ping", None)
    if ping is None:
        return "not used"
    await ping()
    return "answers"


async def _model(state: ServerState) -> str:
    spec = state.settings.model
    model = state.model(spec)
    if isinstance(model, OpenAICompatibleModel):
        ok, detail = await model.probe(timeout_s=TIMEOUT_S)
        if not ok:
            raise RuntimeError(detail)
        return detail
    if isinstance(model, EmbeddedModel):
        problem = await asyncio.to_thread(model.weights_problem)
        if problem is not None:
            raise RuntimeError(f"{spec}: {problem}")
        return f"{spec}: " + ("loaded" if model.loaded else "installed (loads on the first turn)")
    return spec
