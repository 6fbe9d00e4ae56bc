"""``create_app``: the FastAPI application behind ``ponder serve``.

It builds the server's state, registers the error handlers (handlers.py) and includes the routers of
routes/ (one module per group, with FastAPI dependencies for the state and the caller) and of server/ucp/.
Routes are thin: each calls a serving function or answers from the state. Errors of every kind leave in
OpenAI's error shape. Nothing is loaded at import: models load on first use, server-side tools are listed when
the app starts (lifespan) and again before turns as they age (tool_listing.py), and the database opens in
``create_app``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ponder import __version__
from ponder.config import Settings
from ponder.messages import Message
from ponder.models.base import ModelSettings
from ponder.models.registry import resolve_model
from ponder.server.chat import MODE_MODELS
from ponder.server.guard import BrowserGuard
from ponder.server.handlers import install_error_handlers
from ponder.server.interpreter import sharing_the_interpreter
from ponder.server.metrics import Metrics
from ponder.server.middleware import RequestMiddleware
from ponder.server.protocol import ChatCompletionChunk, ChatCompletionRequest
from ponder.server.routes import API_ROUTERS, PAGE_ROUTERS
from ponder.server.state import ModelFactory, ServerState
from ponder.server.tool_listing import ToolListing
from ponder.server.ucp.router import REQUEST_MODELS as UCP_REQUEST_MODELS
from ponder.store.database import Database, open_database
from ponder.store.jobs import JobQueue, JobWorker
from ponder.tools.loading import load_toolsets

if TYPE_CHECKING:
    from ponder.channels.service import ChannelService
    from ponder.memory.embeddings import Embedder
    from ponder.perception import Perception
    from ponder.store.async_jobs import AsyncJobWorker

__all__ = ["create_app"]


WARMED_STORES = 4  # stores whose policy prompt is warmed at start, at most


async def _warm(state: ServerState) -> None:
    """The default model loaded, and the fixed prompts of planned shopping turns in its KV states (a model
    that keeps prompt states: the embedded engine): the policy prompt of the first few stores, then the
    planner's (last, so that it stays in memory); a failure is logged, and the first request loads the
    model instead."""
    settings = state.settings
    try:
        model = state.model(settings.model)
        warm = getattr(model, "warm", None)
        if warm is None or settings.commerce.assistant != "planned":
            return
        from ponder.commerce.assistant.mode import planner_prefix
        from ponder.commerce.mode import answer_prompt

        shop = state.shop
        prompts = []
        for account in (await asyncio.to_thread(shop.catalog.stores))[:WARMED_STORES]:
            prompt = await asyncio.to_thread(answer_prompt, shop, account, settings.system_prompt)
            prompts.append([Message.system(prompt)])
        prompts.append(planner_prefix())
        for messages in prompts:
            started = time.perf_counter()
            report = await warm(messages, ModelSettings())
            if report is not None:
                seconds = time.perf_counter() - started
                log.info("prompt state ready: %d tokens, %s, %.1f s", report.tokens, report.source, seconds)
    except Exception as err:  # the server still starts
        log.warning("could not warm the model %s: %s", settings.model, err)


log = logging.getLogger("ponder.server")


def _default_factory(spec: str, settings: Settings) -> Any:
    return resolve_model(spec, settings)


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
            toolsets = load_toolsets(settings.tools, settings, sandbox=state.sandbox, db=state.db)
            state.server_tools = ToolListing(toolsets, settings.server.tools_refresh_s)
            await state.server_tools.list_at_start()  # a toolset that cannot be listed stops the start
            if settings.server.warm:
                await _warm(state)
            stop = asyncio.Event()
            if settings.channels and state.channels is None:
                state.channels = _channels(state)
            state.jobs = _async_jobs(state)
            with sharing_the_interpreter(asyncio.get_running_loop()):  # once what the server keeps is loaded
                state.in_background(_jobs(state).serve(stop))  # the sweeper
                state.in_background(state.jobs.serve(stop))  # learning after turns
                if state.channels is not None:
                    state.in_background(state.channels.serve(stop))  # answering and sending in threads
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
    app.state.ponder = state  # what the routes' ``State`` dependency reads (routes/depends.py)
    app.state.started = int(time.time())  # the models' "created"
    install_error_handlers(app, state)
    for router in API_ROUTERS:
        app.include_router(router)

    from ponder.server import ucp  # UCP checkout for shopping agents (loads the UCP SDK)
    from ponder.server.routes import channels  # the messaging platforms' webhooks

    for router in (*ucp.ROUTERS, channels.router, *PAGE_ROUTERS):
        app.include_router(router)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(BrowserGuard, local=settings.server.allow_local_without_key)  # inside the request log
    app.add_middleware(
        RequestMiddleware,
        metrics=metrics,
        max_body_bytes=settings.server.max_body_bytes,
        max_small_body_bytes=settings.server.max_small_body_bytes,
    )
    return app


def _jobs(state: ServerState) -> JobWorker:
    """The server's job worker: the kinds it runs, each handler reaching its part only when a job comes."""
    from ponder.commerce.actions import SETTLE_ACTION
    from ponder.commerce.ucp.order_documents import ORDER_EVENT
    from ponder.server.ucp.webhooks import OrderWebhooks

    def settle_action(payload: dict[str, Any]) -> None:
        state.shop.actions.settle_job(payload)

    webhooks = OrderWebhooks(state)
    return JobWorker(JobQueue(state.db), {SETTLE_ACTION: settle_action, ORDER_EVENT: webhooks.deliver})


def _async_jobs(state: ServerState) -> AsyncJobWorker:
    """The server's async durable jobs: learning what turns taught (memory/learning.py), one at a time (its
    model calls share the engine with the turns), on whichever replica claims it."""
    from ponder.memory.learning import LEARN_JOB, run_learning
    from ponder.store.async_jobs import AsyncJobWorker

    learn = functools.partial(run_learning, lambda: state.memory, state.model)
    return AsyncJobWorker(
        JobQueue(state.db, lease_s=state.settings.server.job_lease_s), {LEARN_JOB: learn}, concurrency=1
    )


def _channels(state: ServerState) -> ChannelService:
    """The server's messaging channels: their turns run on the server's model, memory, perception and shop,
    their database work in the server's worker threads."""
    from ponder.channels.service import ChannelService
    from ponder.conversation import Conversation

    settings = state.settings
    conversation = Conversation(
        settings, memory=lambda: state.memory, perception=state.perception, shop=lambda: state.shop
    )
    return ChannelService(
        state.db,
        settings.channels,
        conversation,
        model=lambda: state.model(settings.model),
        shop=lambda: state.shop,
        concurrency=settings.server.channel_workers,
        lease_s=settings.server.channel_lease_s,
        learn_with=settings.model,  # what a thread's turns state is learned by the server's job worker
    )


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
    for name, model in UCP_REQUEST_MODELS.items():
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for nested, nested_schema in body.pop("$defs", {}).items():
            components.setdefault(nested, nested_schema)
        components[name] = body
    app.openapi_schema = schema
    return schema
