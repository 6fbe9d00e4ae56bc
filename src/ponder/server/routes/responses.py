"""The Responses API routes (OpenAI's ``/v1/responses``): their documentation in /openapi.json, and the calls
into the serving functions (server/responses.py), which run the turn the way the chat route does."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse

from ponder.server import responses as serving
from ponder.server.chat import MODE_MODELS
from ponder.server.responses_protocol import request_schema
from ponder.server.routes.depends import ERRORS, Caller, State, server_state

__all__ = ["router"]

router = APIRouter(tags=["responses"])

ResponseId = Annotated[str, FastApiPath(max_length=128, description="A stored response's id (resp_...).")]

_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "description": "The event's type, e.g. response.output_text.delta"},
        "data": {"type": "string", "description": "The event as JSON, with its type and sequence_number"},
    },
    "required": ["data"],
}
_OBJECT: dict[str, Any] = {"type": "object", "description": "A response object (object: response)"}


@router.post(
    "/v1/responses",
    response_model=None,
    responses={
        200: {
            "description": "The response; with stream=true, server-sent typed events (response.created, "
            "response.output_text.delta, ..., response.completed)",
            "content": {
                "application/json": {"schema": _OBJECT},
                "text/event-stream": {
                    "itemSchema": _SSE_EVENT,
                    "schema": {"type": "array", "items": _SSE_EVENT},
                },
            },
        },
        **ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": request_schema(list(MODE_MODELS))}},
        }
    },
)
async def create_response(request: Request) -> Response:
    """Answer input items in a reasoning mode (OpenAI's Responses API), stored and continued by id."""
    # Like the chat route: the serving function reads the body and admits the caller itself.
    return await serving.create_response(server_state(request), request)


@router.get(
    "/v1/responses/{response_id}",
    responses={200: {"content": {"application/json": {"schema": _OBJECT}}}, **ERRORS},
)
async def get_response(state: State, caller: Caller, response_id: ResponseId) -> JSONResponse:
    """A stored response, as it was sent."""
    body = await asyncio.to_thread(serving.get_response, state, caller.principal.account, response_id)
    return JSONResponse(body, headers=caller.headers)


@router.get("/v1/responses/{response_id}/input_items", responses=ERRORS)
async def list_input_items(state: State, caller: Caller, response_id: ResponseId) -> JSONResponse:
    """The input items of a stored response."""
    body = await asyncio.to_thread(serving.list_input_items, state, caller.principal.account, response_id)
    return JSONResponse(body, headers=caller.headers)


@router.delete("/v1/responses/{response_id}", responses=ERRORS)
async def delete_response(state: State, caller: Caller, response_id: ResponseId) -> JSONResponse:
    """Delete a stored response: it can no longer be retrieved or continued (its turn stays in its
    session)."""
    body = await asyncio.to_thread(serving.delete_response, state, caller.principal.account, response_id)
    return JSONResponse(body, headers=caller.headers)
