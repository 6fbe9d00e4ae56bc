"""What the route modules share: FastAPI dependencies for the server's state (``State``) and for the
caller (``Caller``: the API key's principal, admitted at the price of one request), and the error answers
every /v1 route documents.

Not here: how a key is checked or a limit applied (auth.py), the state itself (state.py). The chat and
transcription routes admit at their own price after reading the body (chat.py, transcriptions.py), so they
take ``State`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from ponder.server.auth import Principal, admit, authenticate
from ponder.server.protocol import ErrorResponse
from ponder.server.state import ServerState

__all__ = ["ERRORS", "Admitted", "Caller", "State", "server_state"]

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "The request is malformed or asks for something unsupported",
        401: "No API key, or a bad one",
        403: "The key's tier is not configured",
        404: "Unknown model",
        413: "The body or a media part is too large",
        429: "A rate limit is reached (see Retry-After)",
        500: "A bug in Ponder",
        502: "The backend model server failed",
        503: "The server is busy, or the model cannot be used now",
        504: "The turn took longer than the server allows",
    }.items()
}


def server_state(request: Request) -> ServerState:
    """The state ``create_app`` built (``app.state.ponder``)."""
    state: ServerState = request.app.state.ponder
    return state


State = Annotated[ServerState, Depends(server_state)]


@dataclass(frozen=True)
class Admitted:
    """The caller of a cheap route: its principal, and the rate-limit headers its answer carries."""

    principal: Principal
    headers: dict[str, str]


async def admitted(request: Request, state: State) -> Admitted:
    """The key's principal, admitted at the price of one request (the routes that use it are cheap)."""
    principal = await authenticate(state, request.headers.get("authorization"))
    request.scope["state"]["account"] = principal.account
    return Admitted(principal, await admit(state, principal, 1.0))


Caller = Annotated[Admitted, Depends(admitted)]
