"""The chat completion route (OpenAI's ``POST /v1/chat/completions``): its documentation in /openapi.json,
and the call into the serving function. The turn itself, its auth, limits and streaming are server/chat.py's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ponder.server.chat import chat_completions
from ponder.server.protocol import ChatCompletion
from ponder.server.routes.depends import ERRORS, server_state

__all__ = ["router"]

router = APIRouter()

_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "data": {"type": "string", "description": "A ChatCompletionChunk as JSON, or [DONE] at the end"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
    "required": ["data"],
}


@router.post(
    "/v1/chat/completions",
    response_model=None,
    responses={
        200: {
            "model": ChatCompletion,
            "description": "The completion; with stream=true, server-sent ChatCompletionChunk events",
            "content": {
                "text/event-stream": {
                    # Per server-sent event: data is a ChatCompletionChunk as JSON, or [DONE] last.
                    "itemSchema": _SSE_EVENT,
                    "schema": {"type": "array", "items": _SSE_EVENT},
                }
            },
        },
        **ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}}
            },
        }
    },
)
async def create_chat_completion(request: Request) -> Response:
    """Answer a conversation in a reasoning mode (OpenAI's chat completions)."""
    # No dependency to solve on the busiest route: it reads the body and admits the caller itself.
    return await chat_completions(server_state(request), request)
