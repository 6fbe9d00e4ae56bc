"""``GET /v1/realtime``: a live session over WebSocket, speaking the text-output subset of OpenAI's Realtime
API (server/realtime/).

The key, the connection's share of the rate limit and the model are checked before the socket is accepted,
so a refused client gets a plain HTTP answer (401, 429, 404) as on every route. After that, every problem is
an ``error`` event and the session goes on; a client that stops reading (``MAX_QUEUED`` events waiting) or
says nothing for ``[server] realtime_idle_s`` is closed. ``?user=`` names the end user inside the account
(whose sessions and memories the turns use), as ``user`` does in a chat request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from typing import Any, Final

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ponder.server.auth import admit, identify
from ponder.server.chat import _target
from ponder.server.protocol import ChatCompletionRequest
from ponder.server.realtime.session import RealtimeSession
from ponder.server.state import ServerState

__all__ = ["router"]

router = APIRouter(tags=["realtime"])

MAX_QUEUED: Final = 2048  # events waiting for a client that does not read: past this, it is closed
CLOSE_POLICY: Final = 1008
CLOSE_NORMAL: Final = 1000


@router.websocket("/v1/realtime")
async def realtime(ws: WebSocket) -> None:
    state: ServerState = ws.app.state.ponder
    principal = await asyncio.to_thread(identify, state, ws.headers.get("authorization"))
    ws.scope.setdefault("state", {})["account"] = principal.account
    await admit(state, principal, 1.0)  # the connection itself: one request of the minute
    model = ws.query_params.get("model") or "ponder-instant"
    probe = ChatCompletionRequest.model_validate(
        {"model": model, "messages": [{"role": "user", "content": "."}]}
    )
    _target(state, probe)  # 404 for a model the server does not have
    user = ws.query_params.get("user")
    if user is not None:
        principal = dataclasses.replace(principal, user=user)
    beta = "realtime=v1" in (ws.headers.get("openai-beta") or "")
    await ws.accept()
    outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    overflowed = asyncio.Event()

    def emit(event: dict[str, Any]) -> None:
        if outbox.qsize() >= MAX_QUEUED:
            overflowed.set()
            return
        outbox.put_nowait(event)

    session = RealtimeSession(state, principal, model, beta, emit)
    writer = asyncio.create_task(_write(ws, outbox))
    session.start()
    idle = state.settings.server.realtime_idle_s
    reason = "the client closed the session"
    try:
        while not overflowed.is_set():
            try:
                message = await asyncio.wait_for(ws.receive_text(), timeout=idle)
            except TimeoutError:
                emit(
                    session.events.error(
                        f"No event for {idle:g} s: the session is closed.", code="idle_timeout"
                    )
                )
                reason = "idle"
                break
            await session.handle(message)
        else:
            reason = "the client stopped reading"
    except (WebSocketDisconnect, RuntimeError):  # gone, or half-closed
        reason = "disconnected"
    finally:
        await session.close()
        outbox.put_nowait(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer, timeout=5)
        writer.cancel()
        if reason != "disconnected":
            code = CLOSE_POLICY if reason in ("idle", "the client stopped reading") else CLOSE_NORMAL
            with contextlib.suppress(Exception):
                await ws.close(code=code, reason=reason[:120])


async def _write(ws: WebSocket, outbox: asyncio.Queue[dict[str, Any] | None]) -> None:
    while (event := await outbox.get()) is not None:
        await ws.send_text(json.dumps(event, ensure_ascii=False))
