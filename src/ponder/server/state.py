"""What one running server holds: settings, the database and its stores, loaded models, server-side tools,
the turn gate (concurrency limit) and the metrics. Built by ``create_app``; handlers receive it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ponder.config import Settings
from ponder.models.base import Model
from ponder.server.errors import ApiError
from ponder.server.metrics import Metrics
from ponder.server.tool_listing import ToolListing
from ponder.store.database import Database
from ponder.store.keys import KeyStore
from ponder.store.limits import Limiter, open_rate_limiter

if TYPE_CHECKING:
    from ponder.channels.service import ChannelService
    from ponder.commerce.shop import Shop
    from ponder.commerce.ucp import UcpCheckouts
    from ponder.memory.embeddings import Embedder
    from ponder.memory.interests import InterestStore
    from ponder.memory.service import MemoryService
    from ponder.perception import Perception
    from ponder.sandbox.lazy import LazySandbox
    from ponder.server.image_fetch import ImageFetcher
    from ponder.store.async_jobs import AsyncJobWorker

__all__ = ["ModelFactory", "ServerState"]

ModelFactory = Callable[[str, Settings], Model]


@dataclass
class ServerState:
    settings: Settings
    db: Database
    model_factory: ModelFactory
    metrics: Metrics
    # The tools Ponder runs (sandbox, MCP, @tool modules: the ``tools`` setting), listed at startup and again
    # as they age; a turn awaits ``server_tools.current()`` before it reads ``server_tools.tools``.
    server_tools: ToolListing = field(default_factory=ToolListing)
    sandbox: LazySandbox | None = None  # Contemplating's program agents; starts with the first program
    models: dict[str, Model] = field(default_factory=dict)  # spec -> model, made on first use
    turns_in_flight: int = 0
    turns_by_key: dict[str, int] = field(default_factory=dict)  # key id -> turns it runs now (its slots)
    owns_db: bool = True  # False: the caller gave the database and closes it
    perception: Perception | None = None  # images and audio to text; its engines load on first use
    embedder: Embedder | None = None  # memory recall and interest profiles; None: E5, loaded on first use
    background: set[asyncio.Task[Any]] = field(default_factory=set)  # learning after turns
    large_requests: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))  # see chat.py
    channels: ChannelService | None = None  # the messaging channels ([[channels]]), built at startup
    jobs: AsyncJobWorker | None = None  # the async durable jobs (learning after turns), at startup

    def __post_init__(self) -> None:
        if self.perception is None:
            from ponder.perception import Perception
            from ponder.perception.cache import DatabaseCache

            self.perception = Perception(  # what it reads is kept in the database, for every replica
                self.settings.perception, self.settings.models_dir, cache=DatabaseCache(self.db)
            )
        self.keys = KeyStore(self.db)
        if self.settings.server.redis_url:
            from ponder.store.redis_limits import RedisLimiter

            self.limiter: Limiter = RedisLimiter(self.settings.server.redis_url)
        else:
            self.limiter = open_rate_limiter(self.db)

    @functools.cached_property
    def memory(self) -> MemoryService:
        from ponder.memory.embeddings import E5Embedder
        from ponder.memory.service import MemoryService

        if self.embedder is None:
            self.embedder = E5Embedder()
        return MemoryService(self.db, self.settings.memory, self.embedder)

    @functools.cached_property
    def image_fetcher(self) -> ImageFetcher:
        """Fetches the http(s) image URLs of chat messages, under ``[server] image_urls``."""
        from ponder.server.image_fetch import ImageFetcher

        return ImageFetcher(self.settings.server)

    @functools.cached_property
    def shop(self) -> Shop:
        """The stores of every account (each key's account is a store), on the server's database."""
        from ponder.commerce.mode import open_shop

        return open_shop(self.settings, self.db, self.memory.embedder)

    @functools.cached_property
    def ucp_checkouts(self) -> UcpCheckouts:
        """The UCP checkout sessions outside shopping agents drive (server/ucp/), over the shop."""
        from ponder.commerce.ucp import UcpCheckouts
        from ponder.commerce.ucp.mandates import load_issuers

        issuers = load_issuers(self.settings.ucp.mandate_issuers)
        return UcpCheckouts(self.db, lambda: self.shop, mandate_issuers=issuers)

    @functools.cached_property
    def interests(self) -> InterestStore:
        from ponder.memory.interests import InterestStore

        return InterestStore(self.db, self.memory.embedder)

    def in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` after the response; shutdown waits for it (up to the graceful period)."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def model(self, spec: str) -> Model:
        model = self.models.get(spec)
        if model is None:
            model = self.models[spec] = self.model_factory(spec, self.settings)
        return model

    @contextlib.asynccontextmanager
    async def turn_slot(self, key_id: str) -> AsyncIterator[None]:
        """Hold one of the server's turn slots for the block, for key ``key_id``; 503 at once when all are
        taken, 429 when that key already holds its share."""
        self.take_slot(key_id)
        try:
            yield
        finally:
            self.release_slot(key_id)

    def take_slot(self, key_id: str) -> None:
        server = self.settings.server
        limit = server.max_concurrent_turns
        if self.turns_in_flight >= limit:
            self.metrics.rejected.labels("busy").inc()
            raise ApiError(
                503,
                f"The server is busy: {limit} turns are running, the most it takes at once. Retry shortly.",
                "service_unavailable",
                "server_busy",
                headers={"Retry-After": "1"},
            )
        share = server.max_turns_per_key or -(-limit // 2)
        held = self.turns_by_key.get(key_id, 0)
        if held >= share:  # one busy key leaves the other slots to the other keys
            self.metrics.rejected.labels("key_turns").inc()
            raise ApiError(
                429,
                f"This key already runs {held} turns, its share of the server's {limit} turn slots. Retry "
                "when one of them ends.",
                "rate_limit_error",
                "too_many_turns",
                headers={"Retry-After": "1"},
            )
        self.turns_by_key[key_id] = held + 1
        self.turns_in_flight += 1
        self.metrics.turns_in_flight.set(self.turns_in_flight)

    def release_slot(self, key_id: str) -> None:
        held = self.turns_by_key.pop(key_id, 0) - 1
        if held > 0:
            self.turns_by_key[key_id] = held
        self.turns_in_flight -= 1
        self.metrics.turns_in_flight.set(self.turns_in_flight)

    async def aclose(self) -> None:
        if self.background:
            with contextlib.suppress(Exception):
                await asyncio.wait(self.background, timeout=self.settings.server.graceful_shutdown_s)
        with contextlib.suppress(Exception):
            await self.limiter.aclose()
        for model in self.models.values():
            with contextlib.suppress(Exception):
                await model.aclose()
        if self.sandbox is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.sandbox.aclose())
        await self.server_tools.aclose()
        self.sandbox, self.models = None, {}
        if self.owns_db:
            self.db.close()
