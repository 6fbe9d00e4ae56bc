"""The store's one UCP payment handler, ``dev.ponder.payment_token``, described for platforms: what it
takes, and the JSON schema of its ``config``. The server serves both (``/ucp/payment-handlers/...``); the
2026-01-11 handler description points to them (shapes_2026_01_11.handler).

A platform pays with a handler's instrument. This one takes either a payment method the buyer saved with
the store, named by the ``id`` the checkout offered it under (only to the store's own app, never to an
outside agent), or a ``token`` credential: a token of the store's payment provider (``config.provider``),
which the provider charges once the person confirms. No card number ever reaches the store.
"""

from __future__ import annotations

from typing import Any

from ponder.commerce.ucp.document import HANDLER

__all__ = ["CONFIG_SCHEMA", "SPEC"]

SPEC: dict[str, Any] = {
    "name": HANDLER,
    "summary": "A saved payment method by id, or a token of the store's payment provider.",
    "instruments": {
        "saved": "An instrument with the id the checkout offered (payment.instruments) and no credential.",
        "token": 'An instrument with credential {"type": "token", "token": "<provider token>"}; card brand '
        "and last digits are shown to the buyer only.",
    },
    "config": "config.provider names the payment provider whose tokens are taken; config.environment is "
    "TEST for the bundled test provider, PRODUCTION otherwise.",
}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": f"{HANDLER} config",
    "type": "object",
    "required": ["provider", "environment"],
    "properties": {
        "provider": {"type": "string", "description": "The payment provider whose tokens are taken."},
        "environment": {"type": "string", "enum": ["TEST", "PRODUCTION"]},
    },
}
