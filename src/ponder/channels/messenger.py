"""The Messenger Platform, as a ``Channel``: a Facebook Page's webhook, and the Send API.

- **Handshake** and **signature**: Meta's, as for WhatsApp: ``GET ?hub.mode=subscribe&hub.verify_token=T&
  hub.challenge=C`` is answered ``C`` when ``T`` is the configured verify token; every POST carries
  ``X-Hub-Signature-256``, checked on the raw body before it is parsed (signatures.py).
- **Updates**: ``{"object": "page", "entry": [{"id": PAGE_ID, "time", "messaging": [event, ...]}]}``, each
  event ``{"sender": {"id": PSID}, "recipient", "timestamp": ms, <one of message, postback, delivery,
  read, reaction, ...>}``. A ``message`` with ``text`` is text, or a choice when it carries
  ``quick_reply.payload`` (the text is then the quick reply's title); without text, each of its
  ``attachments`` is an audio or image message, anything else (video, file, location, fallback, reel,
  a sticker) is ``unsupported``. A ``postback`` (a button of a template, the persistent menu, Get Started)
  is a choice. Echoes of the Page's own messages (``message.is_echo``), ``delivery``, ``read`` and every
  other event are dropped, so they are never answered.
- **Sending**: ``POST {base_url}/me/messages`` with the Page access token, ``messaging_type: RESPONSE``:
  text, with choices or list items as quick replies (up to 13, payload ``"item:" + id`` for an item).
- **Media**: an attachment comes as a URL on Meta's CDN, not a media id: ``Inbound.media_id`` holds that
  URL and ``media`` fetches it.

The token goes as ``Authorization: Bearer``, as the Graph API takes it for the WhatsApp Cloud API on the same
host, rather than the ``access_token`` query parameter the Messenger pages show: a URL is what httpx logs
(at INFO) and proxies record, and a token has no place there. It is sent only to ``base_url``'s origin,
never to the CDN an attachment URL names.

Errors (the Graph API's ``{"error": {"code", "error_subcode", "message"}}``): code 10 with subcode 2018278
is the closed 24-hour window; the Graph API's transient and rate-limit codes and any 5xx are retried after
``Retry-After`` or a backoff; anything else is final.

Not here: the handover protocol's ``standby`` events (another app owns the thread), sender actions (typing,
mark seen), Messenger's own templates (generic, button) and Instagram messaging (``object: "instagram"``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import httpx

from ponder.channels.base import Inbound, Limits, Outbound, Refused, SendFailed
from ponder.channels.signatures import check_hub_signature, hub_challenge, retry_after

__all__ = ["MESSENGER_LIMITS", "MessengerChannel"]

MESSENGER_LIMITS: Final = Limits(
    text=2000,
    choices=13,  # quick replies
    choice_title=20,
    choices_text=2000,  # a message with quick replies is a text message
    payload_bytes=1000,  # documented as 1000 characters: 1000 bytes is never more
    items=13,  # also quick replies: Messenger has no list message
    item_title=20,
    window_s=24 * 3600,
)
# (code, error_subcode): "This message is sent outside of allowed window." 2018065 is the older subcode of
# the same refusal.
_OUTSIDE_WINDOW: Final = frozenset({(10, 2018278), (10, 2018065)})
# 1, 2: temporary (the Graph API's error-handling guide: wait and retry); 4, 17, 32, 613: application, user,
# Page and custom rate limits; 80001, 80006: the Pages and Messenger business-use-case rate limits;
# 1200: "Temporary send message failure. Please try again later."
_TRANSIENT: Final = frozenset({1, 2, 4, 17, 32, 613, 1200, 80001, 80006})
_MEDIA: Final = ("audio", "image")


class MessengerChannel:
    """One Facebook Page on Messenger."""

    limits = MESSENGER_LIMITS

    def __init__(
        self, name: str, *, base_url: str, page_access_token: str, app_secret: str, verify_token: str
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")  # "https://graph.facebook.com/v21.0"
        self._auth = {"Authorization": f"Bearer {page_access_token}"}
        self._app_secret = app_secret.encode()
        self._verify_token = verify_token

    # --- receiving ----------------------------------------------------------------------------------------

    def handshake(self, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
        return hub_challenge(self._verify_token, query)

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> None:
        check_hub_signature(self._app_secret, headers.get("x-hub-signature-256"), body)

    def parse(self, body: bytes) -> list[Inbound]:
        try:
            update = json.loads(body)
            if update.get("object") != "page":
                raise Refused(400, "Not a Messenger Page update.")
            return [
                inbound
                for entry in update.get("entry") or []
                for event in entry.get("messaging") or []
                for inbound in _inbounds(event)
            ]
        except (ValueError, AttributeError, TypeError, KeyError) as err:
            raise Refused(400, f"Not the Messenger Platform's webhook JSON: {err}") from None

    # --- sending ------------------------------------------------------------------------------------------

    async def send(self, client: httpx.AsyncClient, message: Outbound) -> str:
        """Send ``message`` as a response in the 24-hour standard messaging window.

        Messenger has no templates. Outside the window it allows only message tags, and none fits a reply
        Ponder composes: ``HUMAN_AGENT`` (7 days) is for replies a person writes, automated messages are not
        allowed under it, and the app needs the Human Agent permission; ``CONFIRMED_EVENT_UPDATE``,
        ``POST_PURCHASE_UPDATE`` and ``ACCOUNT_UPDATE`` are for those specific non-promotional updates, not
        for answering a conversation. So ``template=True`` fails at once, final, with ``outside_window``.
        """
        if message.template:
            raise SendFailed(
                "The 24-hour window is closed: Messenger has no template, and no message tag allows an "
                "automated reply.",
                retry_after=None,
                outside_window=True,
            )
        content: dict[str, Any] = {"text": message.text}
        if replies := self._quick_replies(message):
            content["quick_replies"] = replies
        body = {"recipient": {"id": message.thread}, "messaging_type": "RESPONSE", "message": content}
        try:
            answer = await client.post(f"{self.base_url}/me/messages", json=body, headers=self._auth)
        except httpx.HTTPError as err:
            raise SendFailed(f"The Send API did not answer: {err}", retry_after=0.0) from None
        if answer.is_error:
            raise _failure(answer)
        try:
            return str(answer.json()["message_id"])
        except (ValueError, KeyError, TypeError):
            raise SendFailed("The Send API's answer names no message id.", retry_after=None) from None

    def _quick_replies(self, message: Outbound) -> list[dict[str, str]]:
        """A list's items, or else the choices, as text quick replies."""
        title = self.limits.choice_title
        if message.items:
            picks = [(i.title, f"item:{i.id}") for i in message.items[: self.limits.items]]
        else:
            picks = [(c.title, c.payload) for c in message.choices[: self.limits.choices]]
        return [{"content_type": "text", "title": t[:title], "payload": p} for t, p in picks]

    async def acknowledge(self, client: httpx.AsyncClient, inbound: Inbound) -> None:
        return None  # Messenger needs nothing: the webhook's 200 is the acknowledgement

    async def media(self, client: httpx.AsyncClient, inbound: Inbound) -> tuple[bytes, str]:
        """Fetch an attachment's URL (``inbound.media_id``). Meta's CDN URLs are signed and expire (their
        ``oe`` parameter): fetched late, they answer an error, which is final."""
        try:
            headers = self._auth if _same_origin(inbound.media_id, self.base_url) else {}
            data = await client.get(inbound.media_id, headers=headers, follow_redirects=True)
        except httpx.InvalidURL as err:
            raise SendFailed(f"The attachment URL is not valid: {err}", retry_after=None) from None
        except httpx.HTTPError as err:
            raise SendFailed(f"The attachment could not be fetched: {err}", retry_after=0.0) from None
        if data.is_error:
            raise _failure(data)
        mime_type = data.headers.get("content-type", "").split(";")[0].strip()
        return data.content, mime_type or inbound.mime_type or "application/octet-stream"


def _inbounds(event: dict[str, Any]) -> list[Inbound]:
    """The messages in one ``messaging[]`` event: none for echoes, deliveries, reads, reactions..."""
    if "message" not in event and "postback" not in event:
        return []
    sender = event["sender"]
    if "id" not in sender:
        return []  # a chat-plugin guest (sender.user_ref) has no PSID to answer
    psid, timestamp = str(sender["id"]), event["timestamp"]
    base: dict[str, Any] = {"sender": psid, "thread": psid, "at": float(timestamp) / 1000}
    if "postback" in event:
        postback = event["postback"]
        return [
            Inbound(
                message_id=str(postback.get("mid") or f"postback:{psid}:{timestamp}"),
                kind="choice",
                payload=str(postback.get("payload", "")),
                text=str(postback.get("title", "")),
                **base,
            )
        ]
    message = event["message"]
    if message.get("is_echo"):
        return []  # the Page's own message, sent by this app or by a person in the Page's inbox
    mid, text = str(message["mid"]), str(message.get("text") or "")
    if "quick_reply" in message:
        payload = str(message["quick_reply"].get("payload", ""))
        return [Inbound(message_id=mid, kind="choice", payload=payload, text=text, **base)]
    if text:  # a shared link also carries a "fallback" attachment: the text is the message
        return [Inbound(message_id=mid, kind="text", text=text, **base)]
    attachments = message.get("attachments") or []
    if _is_sticker(message, attachments):  # until Aug 2026 a sticker is both a sticker and an image
        return [Inbound(message_id=mid, kind="unsupported", what="sticker", **base)]
    if not attachments:
        return [Inbound(message_id=mid, kind="unsupported", what="message", **base)]
    # Several photos sent at once are one message: one Inbound each, the first under the message's own id.
    return [_attachment(a, mid if n == 0 else f"{mid}:{n}", base) for n, a in enumerate(attachments)]


def _is_sticker(message: dict[str, Any], attachments: list[dict[str, Any]]) -> bool:
    return "sticker_id" in message or any(
        a.get("type") == "sticker" or "sticker_id" in (a.get("payload") or {}) for a in attachments
    )


def _attachment(attachment: dict[str, Any], message_id: str, base: dict[str, Any]) -> Inbound:
    kind, url = str(attachment.get("type", "")), (attachment.get("payload") or {}).get("url")
    if kind in _MEDIA and url:
        return Inbound(
            message_id=message_id, kind="audio" if kind == "audio" else "image", media_id=str(url), **base
        )
    return Inbound(message_id=message_id, kind="unsupported", what=kind or "attachment", **base)


def _same_origin(url: str, base_url: str) -> bool:
    mine, theirs = httpx.URL(url), httpx.URL(base_url)
    return (mine.scheme, mine.host, mine.port) == (theirs.scheme, theirs.host, theirs.port)


def _failure(answer: httpx.Response) -> SendFailed:
    """What a Graph API error means for the outbox."""
    try:
        error = answer.json().get("error")
    except (ValueError, AttributeError):
        error = None
    error = error if isinstance(error, dict) else {}
    code, subcode = _number(error.get("code")), _number(error.get("error_subcode"))
    text = str(error.get("message") or answer.reason_phrase)
    label = f"{code}/{subcode}" if subcode else str(code or answer.status_code)
    if (code, subcode) in _OUTSIDE_WINDOW:
        return SendFailed(text, retry_after=None, outside_window=True, code=label)
    if code in _TRANSIENT or answer.status_code == 429 or answer.status_code >= 500:
        return SendFailed(text, retry_after=retry_after(answer), code=label)
    return SendFailed(text, retry_after=None, code=label)


def _number(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
