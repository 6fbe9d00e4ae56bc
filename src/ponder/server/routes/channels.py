"""The messaging platforms' webhooks, one per configured channel (``[[channels]]``): no API key, each
request is the platform's own, checked by its signature or secret (ponder/channels).

    GET  /channels/{name}/webhook   the platform's subscription handshake (WhatsApp, Messenger)
    POST /channels/{name}/webhook   updates: taken into the inbox, then 200 at once; answered later

A refused request (a bad signature, a wrong verify token, a body that is not the platform's JSON) gets its
status and nothing of it is processed; a redelivered message is answered 200 and not taken again.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from ponder.channels.base import Refused
from ponder.channels.service import ChannelService
from ponder.server.routes.depends import State

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["channels"])


def _service(state: State) -> ChannelService:
    if state.channels is None:
        raise Refused(404, "No messaging channel is configured on this server.")
    return state.channels


@router.get("/channels/{name}/webhook", response_class=PlainTextResponse)
async def handshake(name: str, request: Request, state: State) -> PlainTextResponse:
    """The platform's subscription handshake: the challenge, when the verify token is the channel's."""
    try:
        challenge = _service(state).handshake(name, dict(request.query_params), request.headers)
    except Refused as refused:
        return PlainTextResponse(str(refused), status_code=refused.status)
    return PlainTextResponse(challenge)


@router.post("/channels/{name}/webhook")
async def webhook(name: str, request: Request, state: State) -> JSONResponse:
    """A platform's update: checked, written to the inbox, acknowledged; answered by the channel worker."""
    body = await request.body()
    try:
        taken = await _service(state).receive(name, request.headers, body)
    except Refused as refused:
        log.warning("channel %s: refused a webhook request: %s", name, refused)
        return JSONResponse({"error": str(refused)}, status_code=refused.status)
    return JSONResponse({"ok": True, "taken": taken})
