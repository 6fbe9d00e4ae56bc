"""The HTTP routes, one module per group; ``create_app`` (server/app.py) includes their routers.

    depends.py     the FastAPI dependencies every group shares: ``State`` (the server's), ``Caller``
                   (the admitted API key), and the documented error answers
    chat.py        POST /v1/chat/completions (the turn: server/chat.py)
    responses.py   /v1/responses: create, retrieve, delete, input items (server/responses.py)
    audio.py       POST /v1/audio/transcriptions (server/transcriptions.py)
    embeddings.py  POST /v1/embeddings (server/embeddings.py)
    models.py      GET /v1/models
    realtime.py    GET /v1/realtime: live sessions over WebSocket (server/realtime/)
    memory.py      /v1/sessions, /v1/memories, DELETE /v1/users/{user}
    commerce.py    /v1/actions, /v1/orders (the UCP routes for outside agents: server/ucp/)
    support.py     /v1/support/tickets: the hand-off queue, and replies into messaging threads
    channels.py    /channels/{name}/webhook: the messaging platforms' webhooks (no key: their signatures)
    interests.py   /v1/interests/events, /v1/users/{user}/interests
    health.py      /healthz, /metrics, the web chat page and its static files

A route module routes and answers: it holds no business logic (that is the serving modules' of server/ and,
below them, commerce/, memory/ and the runner).
"""

from fastapi import APIRouter

from ponder.server.routes import (
    audio,
    chat,
    commerce,
    embeddings,
    health,
    interests,
    memory,
    models,
    realtime,
    responses,
    support,
)

__all__ = ["API_ROUTERS", "PAGE_ROUTERS"]

API_ROUTERS: tuple[APIRouter, ...] = (
    chat.router,
    responses.router,
    audio.router,
    embeddings.router,
    models.router,
    memory.router,
    commerce.router,
    support.router,
    interests.router,
    realtime.router,
)  # the /v1 routes, in the order /openapi.json lists them
PAGE_ROUTERS: tuple[APIRouter, ...] = (health.router,)  # no key: liveness, metrics, the web page
