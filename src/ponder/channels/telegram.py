"""The Telegram Bot API, as a ``Channel``: a bot's webhook, and its ``sendMessage`` call.

- **No handshake**: Telegram never GETs the webhook; the bot registers it with ``setWebhook``
  (``register_webhook``), so ``handshake`` refuses every GET.
- **Secret**: ``setWebhook``'s ``secret_token`` comes back in every POST's ``X-Telegram-Bot-Api-Secret-Token``
  header, compared in constant time before the body is parsed. Telegram signs nothing: the secret is the
  whole check.
- **Updates**: one ``Update`` per POST, ``{"update_id", "message" | "callback_query" | ...}``. A message's
  text, voice note or audio file (``audio``), photo (its largest size, with the caption) becomes an
  ``Inbound``; a sticker, location, contact, document... is ``unsupported``; service messages (a member
  joined, a pinned message) and every other update kind (edited messages, channel posts, polls) are dropped.
  A ``callback_query`` (an inline-keyboard button pressed) is a ``choice``: its ``data`` is the payload
  Ponder put on the button, its ``id`` the query ``acknowledge`` answers. The inbox's key is the message's
  ``CHAT:MESSAGE_ID``, or ``callback:ID`` for a press, the same when an update is delivered again; not
  ``update_id``, which Telegram restarts at random after a week without updates.
- **Sending**: ``POST {base_url}/bot{token}/sendMessage`` with the text in Telegram's HTML parse mode
  (formatting.py renders it), choices and list items as an inline keyboard, one button per row. Telegram has
  no customer-service window, so a template send is the text itself.
- **Media**: ``getFile`` gives a ``file_path``, downloaded from ``{base_url}/file/bot{token}/{file_path}``
  (files up to 20 MB; the path is valid for at least an hour).

Errors (``{"ok": false, "error_code", "description", "parameters": {"retry_after"}}``): 429 is retried after
``parameters.retry_after``, 5xx and no answer after the outbox's backoff, anything else (400: chat not found,
403: the bot was blocked) is final. Limits are the Bot API reference's (https://core.telegram.org/bots/api)
where it gives one, and ours where it does not.

Not here: the rendering of Markdown as Telegram HTML (formatting.py), groups' and channels' own features.
"""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
from collections.abc import Mapping
from typing import Any, Final

import httpx

from ponder.channels.base import Inbound, Limits, Outbound, Refused, SendFailed

__all__ = ["TELEGRAM_LIMITS", "TelegramChannel"]

log = logging.getLogger(__name__)

TELEGRAM_LIMITS: Final = Limits(
    text=4096,  # sendMessage: 1-4096 characters after entities parsing
    # The Bot API documents no limit on inline buttons (the server refuses about 100). 8 is ours: one button
    # per row, 8 rows still fit a phone's screen under the text without scrolling.
    choices=8,
    # InlineKeyboardButton.text has no documented limit; clients cut a long label with "…" to the row's
    # width anyway. 64 is ours: about two lines of a phone's row, and as long as the longest payload.
    choice_title=64,
    choices_text=4096,  # a message with a keyboard is the same sendMessage: its text limit
    payload_bytes=64,  # InlineKeyboardButton.callback_data: 1-64 bytes
    items=10,  # ours, as WhatsApp's list: a product list is buttons here
    item_title=64,
    window_s=None,  # a bot may write to anyone who has started it, at any time
)
_SECRET_HEADER: Final = "x-telegram-bot-api-secret-token"
_ALLOWED_UPDATES: Final = ("message", "callback_query")
_ITEM: Final = "item:"
# A message's content fields Ponder does not read (Bot API ``Message``): answered as unsupported, named by
# the field. A message with none of these and none Ponder reads is a service message, dropped.
_UNSUPPORTED: Final = (
    "sticker",
    "animation",
    "document",
    "video",
    "video_note",
    "paid_media",
    "story",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "invoice",
    "checklist",
)
# What a file is when neither the update nor its path says (voice notes are Opus in OGG, photos JPEG).
_KIND_MIME: Final = {"audio": "audio/ogg", "image": "image/jpeg"}


class TelegramChannel:
    """One Telegram bot."""

    limits = TELEGRAM_LIMITS

    def __init__(self, name: str, *, base_url: str, bot_token: str, secret_token: str) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._token = bot_token
        self._secret = secret_token.encode()

    # --- receiving ----------------------------------------------------------------------------------------

    def handshake(self, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
        """Always ``Refused`` (404): Telegram sends no GET to a webhook, so there is nothing to answer. The
        webhook is registered from this side instead (``register_webhook``)."""
        raise Refused(404, "Telegram webhooks have no GET handshake: register them with setWebhook.")

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> None:
        """``Refused`` (403) unless the secret token header is this channel's ``secret_token``."""
        if not self._secret:
            raise Refused(403, "This channel has no secret token, so no request can be checked: set it.")
        header = _header(headers, _SECRET_HEADER)
        if header is None:
            raise Refused(403, "The request carries no X-Telegram-Bot-Api-Secret-Token.")
        if not hmac.compare_digest(header.encode(), self._secret):
            raise Refused(403, "X-Telegram-Bot-Api-Secret-Token is not this channel's secret token.")

    def parse(self, body: bytes) -> list[Inbound]:
        try:
            update = json.loads(body)
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                raise Refused(400, "Not a Telegram Update: no update_id.")
            if "message" in update:
                message = update["message"]
                found = _from_message(f"{message['chat']['id']}:{message['message_id']}", message)
            elif "callback_query" in update:
                query = update["callback_query"]
                found = _from_callback(f"callback:{query['id']}", query)
            else:  # edited_message, channel_post, my_chat_member...: not registered for, or not a message
                return []
            return [] if found is None else [found]
        except (ValueError, AttributeError, TypeError, KeyError) as err:
            raise Refused(400, f"Not the Telegram Bot API's Update JSON: {err}") from None

    # --- sending ------------------------------------------------------------------------------------------

    async def register_webhook(self, client: httpx.AsyncClient, url: str) -> None:
        """Point the bot's updates at ``url`` (``setWebhook``), with this channel's secret token and only
        the update kinds Ponder reads; ``SendFailed`` if Telegram refuses."""
        params = {
            "url": url,
            "secret_token": self._secret.decode(),
            "allowed_updates": list(_ALLOWED_UPDATES),
        }
        await self._call(client, "setWebhook", params)

    async def send(self, client: httpx.AsyncClient, message: Outbound) -> str:
        body: dict[str, Any] = {"chat_id": message.thread, "text": message.text, "parse_mode": "HTML"}
        rows = self._keyboard(message)  # a template send is the text: there is no window to reopen
        if rows:
            body["reply_markup"] = {"inline_keyboard": rows}
        sent = await self._call(client, "sendMessage", body)
        try:
            return str(sent["message_id"])
        except (KeyError, TypeError):
            raise SendFailed("The Bot API's answer names no message_id.", retry_after=None) from None

    def _keyboard(self, message: Outbound) -> list[list[dict[str, str]]]:
        """The inline keyboard: the list's items, then the choices, one button per row."""
        buttons = [
            (_cut(i.title, self.limits.item_title), _ITEM + i.id) for i in message.items[: self.limits.items]
        ]
        buttons += [
            (_cut(c.title, self.limits.choice_title), c.payload)
            for c in message.choices[: self.limits.choices]
        ]
        for title, data in buttons:
            if not 1 <= len(data.encode()) <= self.limits.payload_bytes:
                raise SendFailed(
                    f"The button {title!r} carries a payload of {len(data.encode())} bytes; Telegram takes "
                    f"1-{self.limits.payload_bytes}.",
                    retry_after=None,
                )
        return [[{"text": title, "callback_data": data}] for title, data in buttons]

    async def acknowledge(self, client: httpx.AsyncClient, inbound: Inbound) -> None:
        """Answer a pressed button's callback query, so the client stops showing its progress bar. Best
        effort: a failure is logged, never raised (the choice is answered all the same)."""
        if inbound.kind != "choice" or not inbound.callback_id:
            return
        try:
            await self._call(client, "answerCallbackQuery", {"callback_query_id": inbound.callback_id})
        except SendFailed as err:
            log.warning("channel %s: answerCallbackQuery failed: %s", self.name, err)

    async def media(self, client: httpx.AsyncClient, inbound: Inbound) -> tuple[bytes, str]:
        file = await self._call(client, "getFile", {"file_id": inbound.media_id})
        try:
            path = str(file["file_path"])
        except (KeyError, TypeError):
            raise SendFailed("The Bot API's getFile answer names no file_path.", retry_after=None) from None
        try:
            data = await client.get(f"{self.base_url}/file/bot{self._token}/{path}")
        except httpx.HTTPError as err:
            raise SendFailed(f"The file could not be fetched: {self._redact(err)}", retry_after=0.0) from None
        if data.is_error:
            raise _failure(data)
        mime = inbound.mime_type or mimetypes.guess_type(path)[0] or _KIND_MIME.get(inbound.kind, "")
        return data.content, mime or "application/octet-stream"

    async def _call(self, client: httpx.AsyncClient, method: str, params: dict[str, Any]) -> Any:
        """One Bot API method's ``result``; ``SendFailed`` for an error or no answer."""
        try:
            answer = await client.post(f"{self.base_url}/bot{self._token}/{method}", json=params)
        except httpx.HTTPError as err:
            raise SendFailed(f"The Bot API did not answer: {self._redact(err)}", retry_after=0.0) from None
        if answer.is_error:
            raise _failure(answer)
        try:
            found = answer.json()
            if found.get("ok") is not True:
                raise _failure(answer)
            return found["result"]
        except (ValueError, AttributeError, KeyError):
            raise SendFailed(f"The Bot API's {method} answer is not its JSON.", retry_after=None) from None

    def _redact(self, err: Exception) -> str:
        """The error's text without the bot token (it is part of every URL)."""
        return str(err).replace(self._token, "<bot token>") if self._token else str(err)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by its lower-case ``name``, whatever the mapping's case."""
    value = headers.get(name)
    if value is not None:
        return value
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _from_message(message_id: str, message: dict[str, Any]) -> Inbound | None:
    chat = str(message["chat"]["id"])
    base: dict[str, Any] = {
        "message_id": message_id,
        "sender": str((message.get("from") or {}).get("id", chat)),
        "thread": chat,
        "at": float(message.get("date") or 0),
    }
    caption = str(message.get("caption", ""))
    if "text" in message:
        return Inbound(kind="text", text=str(message["text"]), **base)
    for field in ("voice", "audio"):  # a voice note, or a music file sent as audio
        if field in message:
            media = message[field]
            mime = str(media.get("mime_type", ""))
            return Inbound(kind="audio", media_id=str(media["file_id"]), mime_type=mime, text=caption, **base)
    if message.get("photo"):  # the sizes of one photo: the largest is the one to look at
        largest = max(
            message["photo"], key=lambda p: (p.get("width", 0) * p.get("height", 0), p.get("file_size", 0))
        )
        return Inbound(
            kind="image", media_id=str(largest["file_id"]), mime_type="image/jpeg", text=caption, **base
        )
    what = next((f for f in _UNSUPPORTED if f in message), None)
    if what is None:
        return None  # a service message: a member joined, a title changed, a message was pinned
    return Inbound(kind="unsupported", what=what, **base)


def _from_callback(message_id: str, query: dict[str, Any]) -> Inbound | None:
    if "data" not in query:
        return None  # a game's button (game_short_name): Ponder puts none
    sender = str(query["from"]["id"])
    shown = query.get("message") or {}  # the bot's message carrying the keyboard (absent in inline mode)
    data = str(query["data"])
    return Inbound(
        message_id=message_id,
        sender=sender,
        thread=str((shown.get("chat") or {}).get("id", sender)),  # a private chat's id is the user's
        kind="choice",
        at=0.0,  # a callback query has no date (the message's is when the bot sent it): not known
        text=_button_text(shown, data),
        payload=data,
        callback_id=str(query["id"]),
    )


def _button_text(message: dict[str, Any], data: str) -> str:
    """The title of the pressed button, from the keyboard the message carries; "" if not found."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    for button in (b for row in rows for b in row):
        if button.get("callback_data") == data:
            return str(button.get("text", ""))
    return ""


def _cut(title: str, limit: int) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"


def _failure(answer: httpx.Response) -> SendFailed:
    """What a Bot API error means for the outbox."""
    try:
        error = answer.json()
        error = error if isinstance(error, dict) else {}
    except ValueError:
        error = {}
    status = int(error.get("error_code") or answer.status_code)
    text = str(error.get("description") or answer.reason_phrase)
    parameters = error.get("parameters") or {}
    if "retry_after" in parameters or status == 429:
        return SendFailed(text, retry_after=_seconds(parameters.get("retry_after")), code=str(status))
    if status >= 500:
        return SendFailed(text, retry_after=0.0, code=str(status))
    if "migrate_to_chat_id" in parameters:  # a group became a supergroup: its chat id changed
        text += f" (the chat is now {parameters['migrate_to_chat_id']})"
    return SendFailed(text, retry_after=None, code=str(status))


def _seconds(value: Any) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 0.0  # no hint: the outbox's own backoff
