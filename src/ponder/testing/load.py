"""Closed-loop chat load through an OpenAI-compatible endpoint, for the multi-replica tests and benches:
``drive`` runs N conversations at once, each sending its next turn when the last is answered, and says what
it saw (``Load``).

A turn answered 200 is acknowledged (its user text is listed under its session); a 503 (no turn slot free
on the replica the balancer picked) is tried again in the same session; anything else, a cut connection
included, starts the conversation over in a new session, as a client would. Not here: starting the
servers (cluster.py) or reading what they stored.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Load", "drive"]


@dataclass
class Load:
    """What a load run saw."""

    seconds: float  # from the first turn sent to the last answer
    latencies: list[float] = field(default_factory=list)  # of the turns answered 200
    codes: Counter[int] = field(default_factory=Counter)
    acknowledged: dict[str, list[str]] = field(default_factory=dict)  # session -> user texts answered 200

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


async def drive(
    url: str,
    key: str,
    *,
    clients: int,
    seconds: float,
    text: Callable[[int, int], str],
    user: str = "bench",
    during: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> Load:
    """``clients`` closed-loop conversations through ``url`` for ``seconds``, turn ``t`` of client ``n``
    saying ``text(n, t)`` as ``user``; ``during`` (a coroutine function: a killer) runs alongside."""
    load = Load(seconds)
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {key}"}

    async def client(number: int, http: httpx.AsyncClient) -> None:
        session, turn = f"b{number}-{uuid.uuid4().hex[:8]}", 0
        while time.monotonic() < stop:
            said = text(number, turn)
            body = {"model": "ponder-instant", "user": user, "messages": [{"role": "user", "content": said}]}
            started = time.perf_counter()
            try:
                answer = await http.post(
                    url + "/v1/chat/completions", json=body, headers=headers | {"X-Ponder-Session": session}
                )
                code = answer.status_code
            except httpx.HTTPError:
                code = 0  # cut: the replica died with the turn in flight
            load.codes[code] += 1
            if code == 200:
                load.latencies.append(time.perf_counter() - started)
                load.acknowledged.setdefault(session, []).append(said)
                turn += 1
            elif code == 503:
                await asyncio.sleep(0.01)  # no slot free on that replica: the next try goes to another
            else:  # not acknowledged: the client starts over in a new session
                session, turn = f"b{number}-{uuid.uuid4().hex[:8]}", 0

    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        tasks = [client(n, http) for n in range(clients)]
        if during is not None:
            tasks.append(during())
        started = time.monotonic()
        await asyncio.gather(*tasks)
        load.seconds = time.monotonic() - started  # to the last turn's answer: every turn counted ran inside
    return load
