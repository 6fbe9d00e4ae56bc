"""The WhatsApp Cloud API, as a ``Channel``: Meta's webhook for a business phone number, and its Graph API
send call.

- **Handshake**: Meta subscribes the webhook with ``GET ?hub.mode=subscribe&hub.verify_token=T&
  hub.challenge=C``; the answer is ``C`` when ``T`` is the configured verify token, 403 otherwise.
- **Signature**: every POST carries ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the app
  secret>``, checked in constant time before the body is parsed (signatures.py).
- **Updates**: ``{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
  "value": {"metadata": {"phone_number_id"}, "contacts", "messages": [...], "statuses": [...]}}]}]}``.
  Messages of type text, audio (``audio.voice``: a voice note), image (with its caption), interactive
  (``button_reply`` / ``list_reply``: the ``id`` Ponder put on the button or row) and button (a template's
  quick reply: its ``payload``) become ``Inbound``s; any other type is ``unsupported``; ``statuses`` (sent,
  delivered, read, failed) are dropped. A body for another phone number id than the channel's is refused.
- **Sending**: ``POST {base_url}/{phone_number_id}/messages`` with the access token as a bearer: text,
  interactive ``button`` (up to 3 reply buttons), interactive ``list`` (up to 10 rows), or the configured
  template (outside the 24-hour customer-service window, error 131047 otherwise).
- **Media**: ``GET {base_url}/{media_id}`` gives a short-lived URL, fetched with the same bearer.

Errors (the Graph API's ``{"error": {"code", "message"}}``): 131047 is the closed window; rate limits
(4, 80007, 130429, 131048, 131056) and 5xx are retried after ``Retry-After`` or a backoff; anything else is
final. Limits are the Cloud API reference's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import httpx

from ponder.channels.base import Inbound, Limits, Outbound, Refused, SendFailed
from ponder.channels.signatures import check_hub_signature, hub_challenge, retry_after

__all__ = ["WHATSAPP_LIMITS", "WhatsAppChannel"]

WHATSAPP_LIMITS: Final = Limits(
    text=4096,
    choices=3,
    choice_title=20,
    choices_text=1024,
    payload_bytes=256,
    items=10,
    item_title=24,
    window_s=24 * 3600,
)
_OUTSIDE_WINDOW: Final = 131047  # "Re-engagement message": more than 24 hours since the person wrote
_RATE_LIMITED: Final = frozenset({4, 80007, 130429, 131048, 131056})
_ROW_DESCRIPTION: Final = 72
_LIST_BUTTON: Final = 20


class WhatsAppChannel:
    """One WhatsApp business number."""

    limits = WHATSAPP_LIMITS

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        phone_number_id: str,
        access_token: str,
        app_secret: str,
        verify_token: str,
        template: str = "",
        template_language: str = "en_US",
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.phone_number_id = phone_number_id
        self._token = access_token
        self._app_secret = app_secret.encode()
        self._verify_token = verify_token
        self.template = template
        self.template_language = template_language

    # --- receiving ----------------------------------------------------------------------------------------

    def handshake(self, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
        return hub_challenge(self._verify_token, query)

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> None:
        check_hub_signature(self._app_secret, headers.get("x-hub-signature-256"), body)

    def parse(self, body: bytes) -> list[Inbound]:
        try:
            update = json.loads(body)
            if update.get("object") != "whatsapp_business_account":
                raise Refused(400, "Not a WhatsApp Business Account update.")
            found: list[Inbound] = []
            for entry in update.get("entry") or []:
                for change in entry.get("changes") or []:
                    if change.get("field") != "messages":
                        continue
                    found.extend(self._messages(change.get("value") or {}))
            return found
        except (ValueError, AttributeError, TypeError, KeyError) as err:
            raise Refused(400, f"Not the WhatsApp Cloud API's webhook JSON: {err}") from None

    def _messages(self, value: dict[str, Any]) -> list[Inbound]:
        number = str((value.get("metadata") or {}).get("phone_number_id", ""))
        if number and number != self.phone_number_id:
            raise Refused(400, f"An update for phone number {number}, not this channel's.")
        return [_inbound(m) for m in value.get("messages") or []]  # "statuses" are not messages

    # --- sending ------------------------------------------------------------------------------------------

    async def send(self, client: httpx.AsyncClient, message: Outbound) -> str:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.thread}
        body |= self._content(message)
        try:
            answer = await client.post(
                f"{self.base_url}/{self.phone_number_id}/messages",
                json=body,
                headers={"Authorization": f"Bearer {self._token}"},
            )
        except httpx.HTTPError as err:
            raise SendFailed(f"The Graph API did not answer: {err}", retry_after=0.0) from None
        if answer.status_code >= 400 or answer.is_error:
            raise _failure(answer)
        try:
            return str(answer.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise SendFailed("The Graph API's answer names no message id.", retry_after=None) from None

    def _content(self, message: Outbound) -> dict[str, Any]:
        if message.template:
            if not self.template:
                raise SendFailed(
                    "The 24-hour window is closed and this channel has no template to send.",
                    retry_after=None,
                    outside_window=True,
                )
            language = {"code": self.template_language}
            return {"type": "template", "template": {"name": self.template, "language": language}}
        if message.items:
            rows = [
                {"id": f"item:{i.id}", "title": i.title[:24], "description": i.description[:_ROW_DESCRIPTION]}
                for i in message.items[: self.limits.items]
            ]
            title = message.list_button[:_LIST_BUTTON]
            action = {"button": title, "sections": [{"title": title, "rows": rows}]}
            interactive = {"type": "list", "body": {"text": message.text}, "action": action}
            return {"type": "interactive", "interactive": interactive}
        if message.choices:
            buttons = [
                {"type": "reply", "reply": {"id": c.payload, "title": c.title[: self.limits.choice_title]}}
                for c in message.choices[: self.limits.choices]
            ]
            interactive = {"type": "button", "body": {"text": message.text}, "action": {"buttons": buttons}}
            return {"type": "interactive", "interactive": interactive}
        return {"type": "text", "text": {"preview_url": False, "body": message.text}}

    async def acknowledge(self, client: httpx.AsyncClient, inbound: Inbound) -> None:
        return None  # WhatsApp needs nothing: the webhook's 200 is the acknowledgement

    async def media(self, client: httpx.AsyncClient, inbound: Inbound) -> tuple[bytes, str]:
        auth = {"Authorization": f"Bearer {self._token}"}
        try:
            found = await client.get(f"{self.base_url}/{inbound.media_id}", headers=auth)
            if found.is_error:
                raise _failure(found)
            info = found.json()
            data = await client.get(str(info["url"]), headers=auth)
            if data.is_error:
                raise _failure(data)
        except httpx.HTTPError as err:
            raise SendFailed(f"The media could not be fetched: {err}", retry_after=0.0) from None
        except (ValueError, KeyError, TypeError):
            raise SendFailed("The Graph API's media answer names no URL.", retry_after=None) from None
        return data.content, str(info.get("mime_type") or inbound.mime_type)


def _inbound(message: dict[str, Any]) -> Inbound:
    kind, sender = str(message["type"]), str(message["from"])
    base: dict[str, Any] = {
        "message_id": str(message["id"]),
        "sender": sender,
        "thread": sender,
        "at": float(message.get("timestamp") or 0),
    }
    if kind == "text":
        return Inbound(kind="text", text=str(message["text"]["body"]), **base)
    if kind in ("audio", "image"):
        media = message[kind]
        return Inbound(
            kind=kind,  # type: ignore[arg-type]
            media_id=str(media["id"]),
            mime_type=str(media.get("mime_type", "")),
            text=str(media.get("caption", "")),
            **base,
        )
    if kind == "interactive":
        reply = message["interactive"]
        picked = reply.get(reply.get("type", "")) or {}
        return Inbound(
            kind="choice", payload=str(picked.get("id", "")), text=str(picked.get("title", "")), **base
        )
    if kind == "button":  # a template's quick-reply button
        button = message["button"]
        return Inbound(
            kind="choice", payload=str(button.get("payload", "")), text=str(button.get("text", "")), **base
        )
    return Inbound(kind="unsupported", what=kind, **base)


def _failure(answer: httpx.Response) -> SendFailed:
    """What a Graph API error means for the outbox."""
    try:
        error = answer.json().get("error") or {}
    except ValueError:
        error = {}
    code = int(error.get("code") or 0)
    text = str(error.get("message") or answer.reason_phrase)
    wait = retry_after(answer)
    if code == _OUTSIDE_WINDOW:
        return SendFailed(text, retry_after=None, outside_window=True, code=str(code))
    if code in _RATE_LIMITED or answer.status_code == 429 or answer.status_code >= 500:
        return SendFailed(text, retry_after=wait, code=str(code or answer.status_code))
    return SendFailed(text, retry_after=None, code=str(code or answer.status_code))
