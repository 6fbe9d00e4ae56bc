"""The model list (OpenAI's ``GET /v1/models``): the modes on the default model (``ponder-*``), the models
configured on this server, and last the embedding model of ``POST /v1/embeddings`` (kind ``embedding``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ponder.server.chat import MODE_MODELS
from ponder.server.embeddings import EMBEDDING_MODEL
from ponder.server.protocol import ModelList
from ponder.server.routes.depends import ERRORS, Caller, State

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/models", response_model=None, responses={200: {"model": ModelList}, **ERRORS})
async def list_models(request: Request, state: State, caller: Caller) -> JSONResponse:
    """The modes on the default model (ponder-*), the models configured on this server, and the embedding
    model."""
    settings, started = state.settings, request.app.state.started
    cards = [
        _card(model_id, started, {"kind": "mode", "mode": mode, "model": settings.model})
        for model_id, mode in MODE_MODELS.items()
    ]
    cards.append(_card(settings.model, started, {"kind": "model", "default": True}))
    for name, configured in sorted(settings.models.items()):
        cards.append(_card(name, started, {"kind": "model", "spec": configured.spec.split("#")[0]}))
    embedding = {"kind": "embedding", "dimensions": state.memory.embedder.dim}  # nothing loads here
    cards.append(_card(EMBEDDING_MODEL, started, embedding))
    return JSONResponse({"object": "list", "data": cards}, headers=caller.headers)


def _card(model_id: str, created: int, ponder: dict[str, Any]) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "ponder", "ponder": ponder}
