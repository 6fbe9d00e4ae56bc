"""A thread's turn: one message from the inbox answered, through the one conversation runner, into the
outbox.

Each thread (a sender, on a channel) is a user of the channel's store account (``PLATFORM:SENDER``, e.g.
``whatsapp:16315551234``) with one session (``CHANNEL:THREAD``), kept in ``channel_threads`` with when the
person last wrote (the platform's 24-hour window counts from it). For each message:

- a **button press** (``choice``) is a confirmation or a cancel (confirmations.py), answered by the store
  and never shown to the model; a pressed list row (``item:ID``) is read as the person asking about it;
- while a **hand-off** ticket of the thread's session is open, the assistant stays quiet (the person's
  messages wait in the inbox for the person handling it; ``ponder support reply`` answers into the thread);
- an **unsupported** message (a sticker, a location) gets a short note;
- text, a **voice note** (ASR) or a **photo** (perception) is a turn of the shopping preset in the channel's
  mode, with the store's rules for identifying a new sender; the reply is the turn's text rendered for the
  platform and split to its limits, each action it proposed followed by Confirm and Cancel buttons.

The reply's parts are written to the outbox and the message marked answered in one transaction, so a
crash before it answers the message again (the job is retried), and a crash after sends what was written.

Not here: the platform's format (the adapters), sending (outbox.py), the turn's steps (conversation.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

import httpx

from ponder.channels.base import Channel, Choice, Inbound, ListItem, Outbound
from ponder.channels.confirmations import ConfirmButtons
from ponder.channels.formatting import Style, render, split
from ponder.channels.inbox import ChannelInbox
from ponder.channels.outbox import queue_reply
from ponder.conversation import Conversation, TurnSpec
from ponder.errors import PonderError
from ponder.memory.learning import queue_stated
from ponder.memory.owner import Owner
from ponder.messages import AudioPart, ImagePart, Message, Part, TextPart, ToolResultEvent, ToolResultPart
from ponder.modes.registry import ModeName, Selection
from ponder.store.database import Database, sql

if TYPE_CHECKING:
    from ponder.commerce.shop import Shop
    from ponder.models.base import Model

__all__ = ["ChannelBinding", "ThreadTurns"]

log = logging.getLogger("ponder.channels")

_NOT_READ: Final = "I can read text, voice notes and photos, but not a {what}. Could you write it instead?"
_ITEM: Final = "item:"
_PRODUCT_TOOLS: Final = frozenset({"search_products", "recommend_products"})


@dataclass(frozen=True)
class ChannelBinding:
    """A configured channel as the thread turns need it."""

    channel: Channel
    platform: str  # whatsapp, messenger, telegram: the users' prefix
    account: str  # the store it sells for
    mode: ModeName
    style: Style


@dataclass(frozen=True)
class Thread:
    owner: Owner
    session_id: str
    last_inbound_at: float  # before this message


class ThreadTurns:
    def __init__(
        self,
        db: Database,
        bindings: dict[str, ChannelBinding],
        conversation: Conversation,
        model: Callable[[], Model],
        shop: Callable[[], Shop],
        client: httpx.AsyncClient,
        in_thread: Callable[..., Awaitable[Any]],
        learn_with: str | None = None,
    ) -> None:
        self.db = db
        self.learn_with = learn_with  # the model spec that learns what turns state (None: no learning)
        self.bindings = bindings
        self.conversation = conversation
        self.model = model
        self.shop = shop
        self.client = client
        self.in_thread = in_thread
        self.inbox = ChannelInbox(db)
        self.buttons = ConfirmButtons(db)

    async def answer(self, payload: dict[str, Any]) -> None:
        """The ``channel.inbound`` job: answer one message of the inbox, unless it was answered."""
        name, message_id = str(payload["channel"]), str(payload["message_id"])
        binding = self.bindings.get(name)
        found = await self.in_thread(self.inbox.get, name, message_id)
        if binding is None or found is None or found[1] == "answered":
            return
        inbound = found[0]
        thread = await self.in_thread(self._thread, name, binding, inbound)
        if inbound.kind == "choice":
            await binding.channel.acknowledge(self.client, inbound)
        replies = await self._reply(name, binding, inbound, thread)
        await self.in_thread(self._answered, name, inbound, replies)

    def apologize(self, payload: dict[str, Any]) -> None:
        """The message could not be answered, however often it was tried: tell the person so (the log and
        the dead job say why), rather than leave them without a reply."""
        name, message_id = str(payload["channel"]), str(payload["message_id"])
        binding = self.bindings.get(name)
        found = self.inbox.get(name, message_id)
        if binding is None or found is None or found[1] == "answered":
            return
        sorry = "Sorry, something went wrong on our side and I could not answer that. Please try again later."
        self._answered(name, found[0], self._parts(binding, found[0].thread, sorry))

    async def _reply(
        self, name: str, binding: ChannelBinding, inbound: Inbound, thread: Thread
    ) -> list[Outbound]:
        if inbound.kind == "choice" and not inbound.payload.startswith(_ITEM):
            pressed = await self.in_thread(
                self.buttons.press, self.shop(), name, inbound.thread, thread.owner, inbound.payload
            )
            if pressed is not None:
                return self._parts(binding, inbound.thread, pressed.text)
        if await self.in_thread(self._handed_off, thread):
            return []  # a person has the thread: the assistant stays quiet
        if inbound.kind == "unsupported":
            return self._parts(binding, inbound.thread, _NOT_READ.format(what=inbound.what or "message"))
        parts = await self._parts_of(binding, inbound)
        turn_spec = TurnSpec(
            [Message("user", parts)],
            Selection(binding.mode, "shopping"),
            owner=thread.owner,
            session_id=thread.session_id,
            store=binding.account,
            scope=binding.account,
        )
        shown: dict[str, ListItem] = {}  # the products the turn's searches found: a list to pick from

        def seen(event: object) -> None:
            if isinstance(event, ToolResultEvent) and event.result.name in _PRODUCT_TOOLS:
                shown.update((item.id, item) for item in _products(event.result))

        try:
            turn = await self.in_thread(self.conversation.begin, turn_spec)
            await turn.prepare(self.model())
            result = await turn.complete(seen)
        except PonderError as err:  # the person learns what went wrong; the job does not spin on it
            return self._parts(binding, inbound.thread, f"Sorry, that did not work: {err}")
        if self.learn_with is not None:
            try:
                await queue_stated(self.db, turn, self.learn_with)
            except Exception:  # the reply is not held back by it; the log says why
                log.exception("queueing what a thread's turn taught failed")
        replies = self._parts(binding, inbound.thread, result.text or "…")
        if shown and not replies[-1].choices:
            items = tuple(shown.values())[: binding.channel.limits.items]
            replies[-1] = replace(replies[-1], items=items)
        for proposal in turn.proposals:
            choices = await self.in_thread(self.buttons.mint, name, inbound.thread, proposal)
            if choices:
                replies += self._parts(binding, inbound.thread, proposal.action.summary, choices)
        return replies

    async def _parts_of(self, binding: ChannelBinding, inbound: Inbound) -> tuple[Part, ...]:
        """The message as the runner takes it: text, or the media fetched from the platform."""
        if inbound.kind == "choice":  # a picked list row: the person asks about that item
            return (TextPart(f"Tell me about {inbound.text} ({inbound.payload.removeprefix(_ITEM)})."),)
        if inbound.kind in ("audio", "image"):
            data, mime = await binding.channel.media(self.client, inbound)
            media: Part = AudioPart(data, mime) if inbound.kind == "audio" else ImagePart(data, mime)
            return (media, TextPart(inbound.text)) if inbound.text else (media,)
        return (TextPart(inbound.text),)

    def _parts(
        self, binding: ChannelBinding, thread: str, markdown: str, choices: tuple[Choice, ...] = ()
    ) -> list[Outbound]:
        """``markdown`` rendered for the platform and split to its limits; the buttons on the last part."""
        limits = binding.channel.limits
        room = int(limits.text * 0.9)  # rendering (Telegram's HTML escapes) may lengthen it a little
        parts = [Outbound(thread, render(p, binding.style)) for p in split(markdown, room)]
        parts = parts or [Outbound(thread, "…")]
        if choices and len(parts[-1].text) <= limits.choices_text:
            parts[-1] = Outbound(thread, parts[-1].text, choices=choices)
        elif choices:  # too long to carry buttons: they come in a message of their own
            parts.append(Outbound(thread, "Confirm or cancel:", choices=choices))
        return parts

    # --- rows ------------------------------------------------------------------------------------------

    def _thread(self, name: str, binding: ChannelBinding, inbound: Inbound) -> Thread:
        """The thread's user and session (made on its first message), its window moved to this message."""
        user = f"{binding.platform}:{inbound.sender}"
        session_id = f"{name}:{inbound.thread}"
        with self.db.transaction() as db:
            row = (
                db.execute(
                    sql("SELECT last_inbound_at FROM channel_threads WHERE channel = :c AND thread = :t"),
                    {"c": name, "t": inbound.thread},
                )
                .mappings()
                .first()
            )
            at = inbound.at or time.time()
            if row is None:
                db.execute(
                    sql(
                        "INSERT INTO channel_threads (channel, thread, account, user_id, session_id, "
                        "last_inbound_at) VALUES (:c, :t, :account, :user, :session, :at)"
                    ),
                    {
                        "c": name,
                        "t": inbound.thread,
                        "account": binding.account,
                        "user": user,
                        "session": session_id,
                        "at": at,
                    },
                )
                last = 0.0
            else:
                last = float(row["last_inbound_at"])
                db.execute(
                    sql(
                        "UPDATE channel_threads SET last_inbound_at = :at "
                        "WHERE channel = :c AND thread = :t AND last_inbound_at < :at"
                    ),
                    {"c": name, "t": inbound.thread, "at": at},
                )
        return Thread(Owner(binding.account, user), session_id, last)

    def _handed_off(self, thread: Thread) -> bool:
        with self.db.reading() as db:
            found = db.execute(
                sql(
                    "SELECT 1 FROM support_tickets WHERE account = :account AND user_id = :user "
                    "AND session_id = :session AND status = 'open'"
                ),
                thread.owner.params(session=thread.session_id),
            ).first()
        return found is not None

    def _answered(self, name: str, inbound: Inbound, replies: list[Outbound]) -> None:
        """The replies queued and the message marked answered, together."""
        with self.db.transaction() as db:
            state = db.execute(
                sql("SELECT state FROM channel_inbox WHERE channel = :c AND message_id = :m"),
                {"c": name, "m": inbound.message_id},
            ).scalar()
            if state == "answered":  # another worker answered it meanwhile (its lease had ended)
                return
            queue_reply(db, name, f"in:{inbound.message_id}", replies)
            db.execute(
                sql("UPDATE channel_inbox SET state = 'answered' WHERE channel = :c AND message_id = :m"),
                {"c": name, "m": inbound.message_id},
            )


def _products(result: ToolResultPart) -> list[ListItem]:
    """The products a search or recommendation returned (its JSON), as rows of a list."""
    if result.is_error:
        return []
    try:
        found = json.loads(result.content)
    except ValueError:
        return []
    rows = found if isinstance(found, list) else []
    return [
        ListItem(str(p["product_id"]), str(p["name"]), str(p.get("price", "")))
        for p in rows
        if isinstance(p, dict) and p.get("product_id") and p.get("name")
    ]
