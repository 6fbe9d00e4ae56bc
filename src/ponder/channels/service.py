"""The messaging channels of one server: the adapters built from ``[[channels]]``, the webhook's two steps
(``handshake``, ``receive``) and the worker that answers and sends (``serve``).

``receive`` is all the webhook does before its 200: check the platform's signature on the raw body, parse
it, and write its messages to the inbox (one short transaction, in a worker thread). Answering and sending
are jobs in the one job table (``channel.inbound``, ``channel.send``), claimed by ``serve``'s workers
(store/async_jobs.py) on any replica: several at once (``concurrency``), messages of one thread one after
another. A webhook wakes them at once; idle, they poll.

Not here: the platforms' formats (the adapters), a message's turn (threads.py), sending (outbox.py).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import httpx

from ponder.channels.base import Channel, Refused
from ponder.channels.formatting import STYLES
from ponder.channels.inbox import INBOUND_JOB, ChannelInbox
from ponder.channels.outbox import SEND_JOB, ChannelOutbox
from ponder.channels.threads import ChannelBinding, ThreadTurns
from ponder.config import ChannelConfig
from ponder.conversation import Conversation
from ponder.errors import ConfigError
from ponder.store.async_jobs import AsyncJobWorker
from ponder.store.database import Database
from ponder.store.jobs import JobQueue

if TYPE_CHECKING:
    from ponder.commerce.shop import Shop
    from ponder.models.base import Model

__all__ = ["ChannelService", "build_channel"]


GRAPH_API: Final = "https://graph.facebook.com/v21.0"
BOT_API: Final = "https://api.telegram.org"


def _secret(config: ChannelConfig, env: Mapping[str, str], variable: str | None) -> str:
    value = env.get(variable or "", "") if variable else ""
    if variable and not value:
        raise ConfigError(f"channel '{config.name}': the environment variable {variable} is not set")
    return value


def build_channel(config: ChannelConfig, env: Mapping[str, str] | None = None) -> Channel:
    """The adapter of one ``[[channels]]`` entry, its secrets read from the environment."""
    env = os.environ if env is None else env
    token = _secret(config, env, config.token_env)
    if config.platform == "whatsapp":
        from ponder.channels.whatsapp import WhatsAppChannel

        return WhatsAppChannel(
            config.name,
            base_url=config.base_url or GRAPH_API,
            phone_number_id=config.phone_number_id,
            access_token=token,
            app_secret=_secret(config, env, config.app_secret_env),
            verify_token=_secret(config, env, config.verify_token_env),
            template=config.template,
            template_language=config.template_language,
        )
    if config.platform == "messenger":
        from ponder.channels.messenger import MessengerChannel

        return MessengerChannel(
            config.name,
            base_url=config.base_url or GRAPH_API,
            page_access_token=token,
            app_secret=_secret(config, env, config.app_secret_env),
            verify_token=_secret(config, env, config.verify_token_env),
        )
    from ponder.channels.telegram import TelegramChannel

    return TelegramChannel(
        config.name,
        base_url=config.base_url or BOT_API,
        bot_token=token,
        secret_token=_secret(config, env, config.secret_token_env),
    )


class ChannelService:
    def __init__(
        self,
        db: Database,
        configs: list[ChannelConfig],
        conversation: Conversation,
        model: Callable[[], Model],
        shop: Callable[[], Shop],
        *,
        channels: Mapping[str, Channel] | None = None,
        client: httpx.AsyncClient | None = None,
        in_thread: Callable[..., Awaitable[Any]] = asyncio.to_thread,
        concurrency: int = 4,
        poll_s: float = 1.0,
        lease_s: float = 30.0,
        learn_with: str | None = None,
    ) -> None:
        self.db = db
        built = dict(channels) if channels is not None else {c.name: build_channel(c) for c in configs}
        self.channels: dict[str, Channel] = built
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=5.0))
        self.in_thread = in_thread
        bindings = {
            c.name: ChannelBinding(built[c.name], c.platform, c.account, c.mode, STYLES[c.platform])
            for c in configs
        }
        self.inbox = ChannelInbox(db)
        self.outbox = ChannelOutbox(db, self.channels, self.client)
        self.turns = ThreadTurns(
            db, bindings, conversation, model, shop, self.client, in_thread, learn_with=learn_with
        )
        # A job's lease is renewed while its worker runs it (a turn may take minutes), so a worker that died
        # loses its job to another within ``lease_s``.
        self.worker = AsyncJobWorker(
            JobQueue(db, lease_s=lease_s, base_s=1.0, cap_s=120.0),
            {INBOUND_JOB: self._answer, SEND_JOB: self._send},
            on_dead={INBOUND_JOB: self.turns.apologize},  # never no reply: the person hears it failed
            in_thread=in_thread,
            concurrency=concurrency,
            poll_s=poll_s,
        )
        self._threads: dict[str, list[Any]] = {}  # channel:thread -> [its lock, how many hold or wait]

    # --- the webhook -------------------------------------------------------------------------------------

    def channel(self, name: str) -> Channel:
        found = self.channels.get(name)
        if found is None:
            raise Refused(404, f"No channel '{name}' here.")
        return found

    def handshake(self, name: str, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
        return self.channel(name).handshake(query, headers)

    async def receive(self, name: str, headers: Mapping[str, str], body: bytes) -> int:
        """Authenticate, parse and take a webhook body into the inbox; how many messages were new.
        ``Refused`` before anything is written."""
        channel = self.channel(name)
        channel.authenticate(headers, body)
        messages = channel.parse(body)
        new = await self.in_thread(self.inbox.take, name, messages)
        if new:
            self.worker.wake()
        return len(new)

    # --- the worker --------------------------------------------------------------------------------------

    async def serve(self, stop: asyncio.Event) -> None:
        """Answer and send until ``stop``: the channel jobs' workers (async_jobs.py)."""
        try:
            await self.worker.serve(stop)
        finally:
            await self.client.aclose()

    async def run_due(self) -> int:
        """Run the due channel jobs until none is left (tests, the CLI); how many ran."""
        return await self.worker.run_due()

    async def _send(self, payload: dict[str, Any]) -> None:
        await self.outbox.deliver(payload, self.in_thread)

    async def _answer(self, payload: dict[str, Any]) -> None:
        thread = f"{payload['channel']}:{payload['thread']}"
        held = self._threads.setdefault(thread, [asyncio.Lock(), 0])
        held[1] += 1
        try:
            async with held[0]:  # one thread's messages one after another
                await self.turns.answer(payload)
        finally:
            held[1] -= 1
            if not held[1]:  # nobody else waits on this thread: forget its lock
                del self._threads[thread]
