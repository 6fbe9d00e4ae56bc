"""Meta's webhook signature, shared by the WhatsApp Cloud API and the Messenger Platform: every POST carries
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the app secret>``. It is checked
on the raw bytes, in constant time, before anything parses the body.

Not here: Telegram's check (a shared secret in ``X-Telegram-Bot-Api-Secret-Token``, telegram.py).
"""

from __future__ import annotations

import hashlib
import hmac

from ponder.channels.base import Refused

__all__ = ["check_hub_signature", "hub_signature"]

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
