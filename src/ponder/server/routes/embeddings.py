"""The embeddings route (OpenAI's ``POST /v1/embeddings``): its documentation in /openapi.json, and the call
into the serving function (server/embeddings.py), which admits the caller, parses the body and embeds."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ponder.server.embeddings import EmbeddingList, create_embeddings, request_schema
from ponder.server.routes.depends import ERRORS, server_state

__all__ = ["router"]

router = APIRouter()


@router.post(
    "/v1/embeddings",
    response_model=None,
    responses={200: {"model": EmbeddingList, "description": "One vector per input, in order"}, **ERRORS},
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": request_schema()}}}
    },
)
async def create_embedding(request: Request) -> Response:
    """Embed texts (OpenAI's embeddings) with the server's embedding model, multilingual-e5-small."""
    # The body is parsed in the serving function, after the key is checked (as the chat route does).
    return await create_embeddings(server_state(request), request)
