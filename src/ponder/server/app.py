"""``create_app``: the FastAPI application behind ``ponder serve``.

Routes are thin: each calls a serving function (chat.py) or answers from the state. Errors of every kind
leave in OpenAI's error shape. Nothing is loaded at import: models load on first use, server-side tools when
the app starts (lifespan), and the database opens in ``create_app``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as FastApiPath
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ponder import __version__
from ponder.config import Settings
from ponder.errors import StoreBusyError
from ponder.models.registry import resolve_model
from ponder.server import actions as actions_api
from ponder.server import memory as memory_api
from ponder.server import orders as orders_api
from ponder.server.auth import Principal, admit, authenticate
from ponder.server.chat import MODE_MODELS, chat_completions
from ponder.server.errors import ApiError, from_ponder_error
from ponder.server.guard import BrowserGuard
from ponder.server.interests import get_profile, record_events
from ponder.server.interpreter import sharing_the_interpreter
from ponder.server.metrics import CONTENT_TYPE, Metrics
from ponder.server.middleware import BodyTooLarge, RequestMiddleware
from ponder.server.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ErrorResponse,
    ModelList,
)
from ponder.server.state import ModelFactory, ServerState
from ponder.server.transcriptions import transcribe
from ponder.store.database import Database, open_database
from ponder.store.jobs import JobQueue, JobWorker
from ponder.tools.loading import load_toolsets
from ponder.tools.runner import ToolRunner

if TYPE_CHECKING:
    from ponder.memory.embeddings import Embedder
    from ponder.perception import Perception

__all__ = ["create_app"]

log = logging.getLogger("ponder.server")

_ERRORS: dict[int | str, dict[str, Any]] = {
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


def _default_factory(spec: str, settings: Settings) -> Any:
    return resolve_model(spec, settings)


# Query parameters of the memory routes (module level: annotations are resolved by name).
User = Annotated[str | None, Query(description="Whose data, within the key's account (default: me).")]
Project = Annotated[str | None, Query(description="The user's project.")]
All = Annotated[bool, Query(alias="all", description="Also replaced facts / earlier versions.")]
MemoryId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1, description="A memory's id.")]


def create_app(
    settings: Settings,
    *,
    model_factory: ModelFactory | None = None,
    db: Database | None = None,
    perception: Perception | None = None,
    embedder: Embedder | None = None,
) -> FastAPI:
    metrics = Metrics()
    state = ServerState(
        settings=settings,
        db=db or open_database(settings.database),
        model_factory=model_factory or _default_factory,
        metrics=metrics,
        owns_db=db is None,
        perception=perception,
        embedder=embedder,
    )
    started = int(time.time())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            if settings.programs:  # one jail pool for the server: program agents and the python tool
                from ponder.sandbox.lazy import LazySandbox

                state.sandbox = LazySandbox(
                    pool_size=settings.sandbox.pool_size,
                    wait_s=settings.sandbox.wait_s,
                    on_unavailable=_programs_off,
                )
            state.toolsets = load_toolsets(settings.tools, settings, sandbox=state.sandbox)
            if state.toolsets:
                state.server_tools = list((await ToolRunner.from_toolsets(state.toolsets)).tools.values())
            stop = asyncio.Event()
            with sharing_the_interpreter(asyncio.get_running_loop()):  # once what the server keeps is loaded
                state.in_background(_jobs(state).serve(stop))  # the sweeper, and later background work
                try:
                    yield
                finally:
                    stop.set()
        finally:
            await state.aclose()

    app = FastAPI(
        title="Ponder",
        version=__version__,
        description="An OpenAI-compatible API over Ponder's reasoning modes.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ponder = state

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> Response:
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"Invalid request: {where + ': ' if where else ''}{first.get('msg', err)}"
        return ApiError(400, message, param=where or None).response()

    @app.exception_handler(StoreBusyError)
    async def busy(request: Request, err: StoreBusyError) -> Response:
        state.metrics.rejected.labels("database_busy").inc()
        return from_ponder_error(err).response()  # 503 with Retry-After: a wait, not a bug

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        if isinstance(err, BodyTooLarge):  # raised while FastAPI read a chunked body
            return err.error().response()
        kind = "not_found_error" if err.status_code == 404 else "invalid_request_error"
        headers = dict(err.headers or {})
        if err.status_code == 405:  # Starlette names only the first route's methods: name every route's
            headers["Allow"] = ", ".join(_allowed(app, request))
        return ApiError(err.status_code, str(err.detail), kind, headers=headers).response()

    @app.exception_handler(Exception)
    async def bug(request: Request, err: Exception) -> Response:
        request_id = request.scope.get("state", {}).get("request_id", "")
        log.exception("unhandled error", extra={"request_id": request_id})
        message = f"Internal error (request {request_id}): this is a bug in Ponder; the log has the details."
        return ApiError(500, message, "server_error").response()

    @app.post(
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
            **_ERRORS,
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
        return await chat_completions(state, request)

    @app.post("/v1/audio/transcriptions", response_model=None, responses=_ERRORS)
    async def create_transcription(
        request: Request,
        file: Annotated[
            UploadFile, File(description="The audio: WAV, FLAC, OGG/Opus, MP3, M4A/MP4 or WebM.")
        ],
        model: Annotated[
            str, Form(description="whisper-1 or whisper-base (Whisper base), or moonshine-tiny")
        ],
        language: Annotated[str | None, Form(description="ISO 639-1 code; detected when absent")] = None,
        prompt: Annotated[str | None, Form(description="Text that guides spelling and style")] = None,
        response_format: Annotated[str, Form(description="json, text, srt, verbose_json or vtt")] = "json",
        temperature: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
        granularities: Annotated[list[str] | None, Form(alias="timestamp_granularities[]")] = None,
    ) -> Response:
        """Transcribe audio (OpenAI's audio transcriptions), with the embedded speech recogniser."""
        data = await file.read()
        return await transcribe(
            state,
            request,
            data=data,
            filename=file.filename or "the file",
            model=model,
            language=language,
            prompt=prompt,
            response_format=response_format,
            temperature=temperature,
            granularities=granularities or [],
        )

    @app.get("/v1/models", response_model=None, responses={200: {"model": ModelList}, **_ERRORS})
    async def list_models(request: Request) -> Response:
        """The modes on the default model (ponder-*) and the models configured on this server."""
        principal = await authenticate(state, request.headers.get("authorization"))
        request.scope["state"]["account"] = principal.account
        headers = await admit(state, principal, 1.0)
        cards = [
            _card(model_id, started, {"kind": "mode", "mode": mode, "model": settings.model})
            for model_id, mode in MODE_MODELS.items()
        ]
        cards.append(_card(settings.model, started, {"kind": "model", "default": True}))
        for name, configured in sorted(settings.models.items()):
            cards.append(_card(name, started, {"kind": "model", "spec": configured.spec.split("#")[0]}))
        return JSONResponse({"object": "list", "data": cards}, headers=headers)

    async def caller(request: Request) -> tuple[Principal, dict[str, str]]:
        """The key's principal, admitted at the price of one request (the routes below are cheap)."""
        principal = await authenticate(state, request.headers.get("authorization"))
        request.scope["state"]["account"] = principal.account
        return principal, await admit(state, principal, 1.0)

    @app.get("/v1/sessions", tags=["memory"], responses=_ERRORS)
    async def sessions_list(
        request: Request, user: User = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50
    ) -> JSONResponse:
        """The user's stored sessions, most recent first."""
        principal, headers = await caller(request)
        body = await memory_api.list_sessions(state.memory, memory_api.owner_of(principal, user), limit)
        return JSONResponse(body, headers=headers)

    @app.get("/v1/sessions/{session_id}", tags=["memory"], responses=_ERRORS)
    async def sessions_get(
        request: Request, session_id: str, user: User = None, everything: All = False
    ) -> JSONResponse:
        """A stored conversation: its active messages (all=true: every stored version)."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, user)
        return JSONResponse(
            await memory_api.get_session(state.memory, owner, session_id, everything), headers=headers
        )

    @app.delete("/v1/sessions/{session_id}", tags=["memory"], responses=_ERRORS)
    async def sessions_delete(request: Request, session_id: str, user: User = None) -> JSONResponse:
        """Delete a session and every message in it."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, user)
        return JSONResponse(await memory_api.delete_session(state.memory, owner, session_id), headers=headers)

    @app.get("/v1/memories", tags=["memory"], responses=_ERRORS)
    async def memories_list(
        request: Request, user: User = None, project: Project = None, everything: All = False
    ) -> JSONResponse:
        """What is remembered about the user (pending memories wait for confirmation)."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, user, project)
        return JSONResponse(await memory_api.list_memories(state.memory, owner, everything), headers=headers)

    @app.post("/v1/memories", tags=["memory"], responses=_ERRORS)
    async def memories_add(request: Request, new: memory_api.NewMemory, user: User = None) -> JSONResponse:
        """Remember a fact about the user, as if they had said it."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, new.user or user, new.project)
        return JSONResponse(await memory_api.add_memory(state.memory, owner, new), headers=headers)

    @app.get("/v1/memories/export", tags=["memory"], responses=_ERRORS)
    async def memories_export(request: Request, user: User = None) -> JSONResponse:
        """Everything remembered about the user, replaced facts included."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, user)
        return JSONResponse(await memory_api.export_memories(state.memory, owner), headers=headers)

    @app.delete("/v1/memories/{memory_id:int}", tags=["memory"], responses=_ERRORS)
    async def memories_forget(request: Request, memory_id: MemoryId, user: User = None) -> JSONResponse:
        """Forget one memory (and the older facts it replaced)."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, user)
        return JSONResponse(await memory_api.forget_memory(state.memory, owner, memory_id), headers=headers)

    @app.post("/v1/memories/{memory_id:int}/confirm", tags=["memory"], responses=_ERRORS)
    async def memories_confirm(request: Request, memory_id: MemoryId, user: User = None) -> JSONResponse:
        """Confirm a pending memory (one from a tool or other content the user did not write)."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, user)
        return JSONResponse(await memory_api.confirm_memory(state.memory, owner, memory_id), headers=headers)

    @app.delete("/v1/users/{user}", tags=["memory"], responses=_ERRORS)
    async def users_forget(request: Request, user: str) -> JSONResponse:
        """Forget the user: every session, memory and interest signal, deleted."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, user)
        return JSONResponse(await memory_api.forget_user(state.memory, owner), headers=headers)

    @app.get("/v1/actions", tags=["shopping"], responses=_ERRORS)
    async def actions_list(request: Request, user: User = None, everything: All = False) -> JSONResponse:
        """The user's pending actions (all=true: decided ones too)."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, user)
        return JSONResponse(await actions_api.list_actions(state.shop, owner, everything), headers=headers)

    @app.post("/v1/actions/{action_id}/confirm", tags=["shopping"], responses=_ERRORS)
    async def actions_confirm(
        request: Request, action_id: str, decision: actions_api.Decision
    ) -> JSONResponse:
        """Confirm a proposed order, cancellation or return with its token: it is carried out, once."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, decision.user)
        body = await actions_api.decide(state.shop, owner, action_id, decision.token, confirm=True)
        return JSONResponse(body, headers=headers)

    @app.post("/v1/actions/{action_id}/decline", tags=["shopping"], responses=_ERRORS)
    async def actions_decline(
        request: Request, action_id: str, decision: actions_api.Decision
    ) -> JSONResponse:
        """Decline a proposed action: nothing is done, and its token stops working."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, decision.user)
        body = await actions_api.decide(state.shop, owner, action_id, decision.token, confirm=False)
        return JSONResponse(body, headers=headers)

    @app.get("/v1/orders", tags=["shopping"], responses=_ERRORS)
    async def orders_list(request: Request, user: User = None) -> JSONResponse:
        """The customer's orders, with their payments and status history."""
        principal, headers = await caller(request)
        owner = memory_api.owner_of(principal, user)
        return JSONResponse(await orders_api.list_orders(state.shop, owner), headers=headers)

    @app.post("/v1/orders/{order_id}/status", tags=["shopping"], responses=_ERRORS)
    async def orders_advance(
        request: Request, order_id: str, change: orders_api.StatusChange
    ) -> JSONResponse:
        """The store moves an order forward: pending -> processed -> delivered (never back)."""
        principal, headers = await caller(request)
        body = await orders_api.advance(state.shop, principal.account, order_id, change)
        return JSONResponse(body, headers=headers)

    @app.post("/v1/interests/events", tags=["interests"], responses=_ERRORS)
    async def interests_record(request: Request) -> JSONResponse:
        """Record interest events: JSON {"user", "events": [...]}, or JSONL (application/x-ndjson)."""
        principal, headers = await caller(request)
        body = await record_events(
            state.interests,
            principal,
            await request.body(),
            request.headers.get("content-type"),
            max_bytes=settings.memory.max_import_bytes,
        )
        return JSONResponse(body, headers=headers)

    @app.get("/v1/users/{user}/interests", tags=["interests"], responses=_ERRORS)
    async def interests_profile(request: Request, user: str) -> JSONResponse:
        """The user's interest profile: categories and items with decayed weights, and why."""
        principal, headers = await caller(request)
        return JSONResponse(await get_profile(state.interests, principal, user), headers=headers)

    from ponder.server.ucp import register_ucp  # UCP checkout for shopping agents (loads the UCP SDK)

    register_ucp(app, state)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the server answers."""
        return {"status": "ok"}

    @app.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
    async def prometheus() -> Response:
        """Prometheus metrics."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def chat_page() -> HTMLResponse:
        return HTMLResponse(_web_file("index.html"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        types = {".js": "text/javascript", ".css": "text/css"}
        suffix = name[name.rfind(".") :] if "." in name else ""
        if suffix not in types or "/" in name:
            raise ApiError(404, f"No file {name}.", "not_found_error")
        try:
            return Response(_web_file(name), media_type=types[suffix])
        except FileNotFoundError:
            raise ApiError(404, f"No file {name}.", "not_found_error") from None

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(BrowserGuard, local=settings.server.allow_local_without_key)  # inside the request log
    app.add_middleware(
        RequestMiddleware,
        metrics=metrics,
        max_body_bytes=settings.server.max_body_bytes,
        max_small_body_bytes=settings.server.max_small_body_bytes,
    )
    return app


def _allowed(app: FastAPI, request: Request) -> list[str]:
    """The methods of every route whose path matches the request's."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def _card(model_id: str, created: int, ponder: dict[str, Any]) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "ponder", "ponder": ponder}


def _web_file(name: str) -> str:
    return (resources.files("ponder") / "web" / name).read_text(encoding="utf-8")


def _jobs(state: ServerState) -> JobWorker:
    """The server's job worker: the kinds it runs, each handler reaching its part only when a job comes."""
    from ponder.commerce.actions import SETTLE_ACTION

    def settle_action(payload: dict[str, Any]) -> None:
        state.shop.actions.settle_job(payload)

    return JobWorker(JobQueue(state.db), {SETTLE_ACTION: settle_action})


def _programs_off(err: Exception) -> None:
    log.warning("program agents are off", extra={"reason": str(err)})


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the request body schemas the chat route parses itself (for speed)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    request_schema = ChatCompletionRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(request_schema.pop("$defs", {}))
    # The models this server answers to, so clients (and fuzzers) see the real choices.
    served = [*MODE_MODELS, app.state.ponder.settings.model, *sorted(app.state.ponder.settings.models)]
    request_schema["properties"]["model"]["enum"] = served
    components["ChatCompletionRequest"] = request_schema
    chunk = ChatCompletionChunk.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(chunk.pop("$defs", {}))
    components["ChatCompletionChunk"] = chunk
    app.openapi_schema = schema
    return schema
