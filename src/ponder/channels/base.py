"""What every messaging channel is, in Ponder's terms: what a platform delivers (``Inbound``), what Ponder
sends back (``Outbound``), and the small interface each platform's adapter implements (``Channel``).

An adapter only translates: the platform's webhook handshake and signature, its update JSON into
``Inbound``s, an ``Outbound`` into its send call, and its errors into ``SendFailed`` with what to do next.
It keeps no state and never runs a turn; the inbox, the outbox and the thread's turn are the same for every
platform (inbox.py, outbox.py, threads.py).

Not here: any one platform's wire format (whatsapp.py, messenger.py, telegram.py), how text is split and
converted to what a platform renders (formatting.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

__all__ = [
    "Channel",
    "Choice",
    "Inbound",
    "InboundKind",
    "Limits",
    "ListItem",
    "Outbound",
    "Refused",
    "SendFailed",
]

# What a delivered message is. "choice": the person pressed a reply button, a list row, a quick reply or
# an inline-keyboard button (``Inbound.payload`` says which); "unsupported": a sticker, a location, a
# contact... (answered with a short note, never given to the model as if it were text).
InboundKind = Literal["text", "audio", "image", "choice", "unsupported"]


@dataclass(frozen=True)
class Inbound:
    """One message a platform delivered. Status callbacks (sent, delivered, read) are not messages: an
    adapter drops them, so they are never answered."""

    message_id: str  # the platform's id for it (wamid, mid, update_id): the inbox's key, against redelivery
    sender: str  # who wrote: WhatsApp's wa_id, Messenger's PSID, Telegram's user id
    thread: str  # where replies go: the same as ``sender`` except in Telegram, its chat id
    kind: InboundKind
    at: float  # when the person sent it (the platform's timestamp, s): the 24-hour window counts from it
    text: str = ""  # the text, an image's caption, or a choice's title
    media_id: str = ""  # audio, image: the platform's id for the file (``Channel.media`` fetches it)
    mime_type: str = ""
    payload: str = ""  # a choice: the payload Ponder put on the button
    callback_id: str = ""  # Telegram: the callback query to answer, so the button stops spinning
    what: str = ""  # unsupported: the platform's name for it ("sticker", "location")


@dataclass(frozen=True)
class Choice:
    """A reply button (or quick reply, or inline-keyboard button): the title shown, the payload returned."""

    title: str
    payload: str


@dataclass(frozen=True)
class ListItem:
    """A row of a product list: the payload returned when picked is ``"item:" + id``."""

    id: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class Outbound:
    """One message to send into a thread, already within the platform's limits (formatting.py splits)."""

    thread: str
    text: str
    choices: tuple[Choice, ...] = ()  # buttons under the text
    items: tuple[ListItem, ...] = ()  # a list to pick from (WhatsApp's list message; elsewhere buttons)
    list_button: str = "Products"  # the list's button title
    template: bool = False  # outside the platform's customer-service window: send the configured template


@dataclass(frozen=True)
class Limits:
    """A platform's limits on what one message holds (each adapter's, from its documentation)."""

    text: int  # characters of text in one message
    choices: int  # buttons on one message
    choice_title: int  # characters of a button's title
    choices_text: int  # characters of the text a message with buttons carries
    payload_bytes: int  # bytes of a button's payload
    items: int  # rows of a list
    item_title: int  # characters of a row's title
    window_s: float | None  # the customer-service window after the person's last message; None: none


class Refused(Exception):
    """A webhook request the channel will not take: a bad signature, a wrong verify token, a body that is
    not the platform's JSON. ``status`` is the HTTP answer (403 or 400); nothing of it was processed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SendFailed(Exception):
    """The platform did not take a send. ``retry_after``: seconds to wait before trying again (a rate
    limit, a 5xx, no answer); None: final, trying again would fail the same way. ``outside_window``: the
    thread's customer-service window closed, only a template may be sent."""

    def __init__(
        self, message: str, *, retry_after: float | None, outside_window: bool = False, code: str = ""
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.outside_window = outside_window
        self.code = code


class Channel(Protocol):
    """One platform's adapter, for one configured channel (config's ``[[channels]]``)."""

    name: str
    limits: Limits

    def handshake(self, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
        """The answer to the platform's GET handshake (WhatsApp's ``hub.challenge``); ``Refused`` (403)."""
        ...

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check a webhook POST came from the platform, before anything parses it; ``Refused``."""
        ...

    def parse(self, body: bytes) -> list[Inbound]:
        """The messages in an authenticated webhook body (statuses dropped); ``Refused`` (400) if it is not
        the platform's JSON."""
        ...

    async def send(self, client: httpx.AsyncClient, message: Outbound) -> str:
        """Send one message; the platform's id for it. ``SendFailed`` says whether to try again."""
        ...

    async def acknowledge(self, client: httpx.AsyncClient, inbound: Inbound) -> None:
        """Tell the platform a choice was received (Telegram's ``answerCallbackQuery``); most need nothing."""
        ...

    async def media(self, client: httpx.AsyncClient, inbound: Inbound) -> tuple[bytes, str]:
        """The bytes and MIME type of an audio or image message's file."""
        ...
