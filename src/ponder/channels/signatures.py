"""What the WhatsApp Cloud API and the Messenger Platform share, as Meta's: the webhook's subscription
handshake (``GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C``, answered ``C`` when ``T`` is the
channel's verify token), the signature on every POST (``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
raw body, keyed with the app secret>``, checked on the raw bytes, in constant time, before anything parses
the body), and the Graph API's ``Retry-After``.

Not here: Telegram's check (a shared secret in ``X-Telegram-Bot-Api-Secret-Token``, telegram.py).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

import httpx

from ponder.channels.base import Refused

__all__ = ["check_hub_signature", "hub_challenge", "hub_signature", "retry_after"]

_PREFIX = "sha256="


def hub_signature(app_secret: bytes, body: bytes) -> str:
    """The header value Meta sends with ``body``."""
    return _PREFIX + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def check_hub_signature(app_secret: bytes, header: str | None, body: bytes) -> None:
    """``Refused`` (403) unless ``header`` is ``body``'s signature under ``app_secret``."""
    if not app_secret:
        raise Refused(403, "This channel has no app secret, so no request can be checked: set it.")
    if not header or not header.startswith(_PREFIX):
        raise Refused(403, "The request carries no X-Hub-Signature-256.")
    if not hmac.compare_digest(header.encode(), hub_signature(app_secret, body).encode()):
        raise Refused(403, "X-Hub-Signature-256 does not match the body.")


def hub_challenge(verify_token: str, query: Mapping[str, str]) -> str:
    """The handshake's answer, ``hub.challenge``; ``Refused`` (403) unless ``hub.verify_token`` is
    ``verify_token`` (compared in constant time)."""
    given = query.get("hub.verify_token", "").encode()
    if (
        query.get("hub.mode") != "subscribe"
        or not verify_token
        or not hmac.compare_digest(given, verify_token.encode())
    ):
        raise Refused(403, "The verify token does not match this channel's.")
    return query.get("hub.challenge", "")


def retry_after(answer: httpx.Response) -> float:
    """The seconds a refusal's ``Retry-After`` asks for; 0.0 without one (the outbox's own backoff)."""
    try:
        return max(0.0, float(answer.headers.get("retry-after", "")))
    except ValueError:
        return 0.0
