"""Reading what a platform sent to a UCP checkout: the buyer's email as a user, the fulfillment's shipping
destinations and selections, and the one payment instrument of a complete request.

Not here: deciding what a checkout may do with them (checkouts.py), pricing (pricing.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from ucp_sdk.models.schemas.shopping.types.fulfillment_create_request import (  # type: ignore[import-untyped]
    FulfillmentCreateRequest,
)
from ucp_sdk.models.schemas.shopping.types.shipping_destination_create_request import (  # type: ignore[import-untyped]
    ShippingDestinationCreateRequest,
)

from ponder.commerce.model import Address, PaymentMethod
from ponder.commerce.payment_handlers import PaymentHandler
from ponder.commerce.pricing import checked_codes
from ponder.commerce.ucp import document as doc
from ponder.commerce.ucp.errors import InvalidCheckoutRequest, first_problem
from ponder.errors import UserError
from ponder.memory.owner import check_name

__all__ = [
    "CONSENT_IDS",
    "Declined",
    "buyer_user",
    "content_id",
    "read_codes",
    "read_consent",
    "read_fulfillment",
    "read_instrument",
]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class Declined(Exception):
    """The complete request's payment cannot be used: a recoverable ``payment_failed``."""

    def __init__(self, content: str, path: str | None) -> None:
        super().__init__(content)
        self.message = doc.error("payment_failed", content, path)


def buyer_user(email: str | None) -> str | None:
    """The user a buyer email names, or None if it is not a usable email."""
    user = (email or "").strip().lower()
    if not _EMAIL.fullmatch(user):
        return None
    try:
        return check_name(user, "user name")
    except UserError:
        return None


def read_fulfillment(raw: Any) -> tuple[list[Address], str | None, str | None, list[dict[str, Any]]]:
    """The shipping destinations the platform wrote, its selections (platform ids resolved to ours), and
    messages about what could not be used."""
    if raw is None:
        return [], None, None, []
    try:
        fulfillment = FulfillmentCreateRequest.model_validate(raw)
        notes: list[dict[str, Any]] = []
        destinations: list[Address] = []
        aliases: dict[str, str] = {}
        selected = option = None
        shipping = [m for m in fulfillment.methods or [] if m.type == "shipping"]
        if len(shipping) != len(fulfillment.methods or []):
            notes.append(
                doc.warning("method_unsupported", "This store only ships: other methods are ignored.")
            )
        for method in shipping[:1]:
            given = (method.model_extra or {}).get("destinations") or []
            if not isinstance(given, list):
                raise InvalidCheckoutRequest("fulfillment.methods[].destinations must be a list.")
            for raw_destination in given:
                destination = ShippingDestinationCreateRequest.model_validate(raw_destination)
                address = _address(destination)
                if address is None:
                    if not destination.id:
                        notes.append(doc.error("invalid", "A destination without an address or an id."))
                    continue
                if not address.country:  # what shipping is quoted by; the rest may come later
                    text = "A shipping address needs address_country."
                    notes.append(doc.error("invalid", text, "$.fulfillment.methods[0].destinations"))
                    continue
                destinations.append(address)
                if destination.id:
                    aliases[destination.id] = address.id
            selected = method.selected_destination_id
            option = next((g.selected_option_id for g in method.groups or [] if g.selected_option_id), None)
    except ValidationError as err:
        raise InvalidCheckoutRequest(f"Invalid fulfillment: {first_problem(err)}") from None
    return destinations, aliases.get(selected, selected) if selected else None, option, notes


# UCP 2026-08-25 names purposes by reverse-DNS ids; 2026-01-11 by plain names, "sale_of_data" for the last
CONSENT_IDS = {ident: purpose for purpose, (ident, _) in doc.CONSENT_PURPOSES.items()}


def read_consent(raw: Any) -> dict[str, bool]:
    """A buyer's ``consent`` as purpose -> granted, from either version's shape: 2026-01-11's booleans
    (``{"marketing": true}``) or 2026-08-25's purposes (``{"dev.ucp.consent.marketing": {"granted": true,
    ...}}``). Purposes the store does not know are left out; a value that is not a yes or no is refused."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidCheckoutRequest("buyer.consent must be an object.")
    consent: dict[str, bool] = {}
    for key, value in raw.items():
        purpose = CONSENT_IDS.get(str(key), str(key))
        granted = value.get("granted") if isinstance(value, dict) else value
        if purpose not in CONSENT_IDS.values():
            continue
        if not isinstance(granted, bool):
            raise InvalidCheckoutRequest(f"buyer.consent.{key}: say true or false.")
        consent[purpose] = granted
    return consent


def read_codes(raw: Any) -> list[str]:
    """The discount codes of UCP's ``discounts`` object (``{"codes": [...]}``), as sent: at most 10, each
    1 to 64 characters (the store matches them ignoring case and reports each it cannot apply)."""
    codes = raw.get("codes") if isinstance(raw, dict) else None
    if raw is None or (isinstance(raw, dict) and codes is None):
        return []
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise InvalidCheckoutRequest("discounts.codes must be a list of strings.")
    try:
        return checked_codes(codes)
    except UserError as err:
        raise InvalidCheckoutRequest(f"discounts.codes: {err}") from None


def _address(destination: Any) -> Address | None:
    """A platform-written shipping address, under the id the platform gave it (what it selects it by), or
    one derived from its content when it gave none or one unfit as an id; None for a destination that only
    names an id. (An id that is also one of the buyer's saved addresses is renamed where both meet:
    pricing.evaluate.)"""
    fields = {
        "line1": (destination.street_address or "").strip(),
        "line2": (destination.extended_address or "").strip(),
        "city": (destination.address_locality or "").strip(),
        "state": (destination.address_region or "").strip(),
        "zip": (destination.postal_code or "").strip(),
        "country": (destination.address_country or "").strip(),
        "name": " ".join(n.strip() for n in (destination.first_name, destination.last_name) if n).strip(),
    }
    if not any(v for k, v in fields.items() if k != "name"):
        return None
    given = destination.id if isinstance(destination.id, str) and _ID.fullmatch(destination.id) else None
    return Address(id=given or content_id(fields), **fields)


def content_id(fields: dict[str, str]) -> str:
    """An address id made from the address itself: the same address sent again has the same id."""
    return "dest_" + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def read_instrument(
    payment: Any, handlers: Sequence[PaymentHandler], saved: set[str], checkout_id: str = ""
) -> tuple[dict[str, Any], str | PaymentMethod]:
    """The one instrument to pay with, as echoed (no credential), and what pays: a saved method's id (one
    of ``saved``, through the store's own handler), or a method holding the token sent (not saved here),
    routed to the provider of the instrument's handler (one of ``handlers``).

    Credentials: a token of the handler's provider (``{"type": <token kind>, "token": ...}``; ``type``
    names the kind, ``token`` by default), possibly bound to a checkout (``binding.checkout_id``: then it
    must be this one, ``checkout_id``). A card number (``type`` ``card``) is refused: it never reaches the
    store; the platform tokenizes it with the handler first."""
    instruments = list(payment.instruments or [])
    chosen = [i for i in instruments if i.selected] or instruments
    if len(chosen) != 1:
        raise Declined("Send exactly one payment instrument.", "$.payment.instruments")
    instrument = chosen[0]
    handler = next((h for h in handlers if h.id == instrument.handler_id), None)
    if handler is None:
        known = ", ".join(f"'{h.id}'" for h in handlers)
        raise Declined(f"Unknown handler_id '{instrument.handler_id}': use one of {known}.", None)
    if instrument.type not in handler.instruments:
        raise Declined(
            f"Handler '{handler.id}' takes {', '.join(handler.instruments)} instruments, "
            f"not '{instrument.type}'.",
            "$.payment.instruments[0].type",
        )
    display = instrument.display or {}
    echo: dict[str, Any] = {"id": instrument.id, "handler_id": handler.id, "type": instrument.type}
    if display:
        echo["display"] = display
    credential = instrument.credential
    if credential is None:  # a saved method, by the id we offered
        if not handler.saved_methods or instrument.id not in saved:
            raise Declined(f"No saved payment method '{instrument.id}' for this buyer.", None)
        return echo, str(instrument.id)
    extra = credential.model_extra or {}
    token = extra.get("token")
    if credential.type == "card" or "number" in extra:
        raise Declined(
            "Card numbers are not taken here: pay with a token of the store's payment provider "
            "(credential {'type': 'token', 'token': ...}).",
            "$.payment.instruments[0].credential",
        )
    if not isinstance(token, str) or not 1 <= len(token) <= 200:
        raise Declined("The credential must be {'type': 'token', 'token': '<provider token>'}.", None)
    binding = extra.get("binding")
    if isinstance(binding, dict) and binding.get("checkout_id") not in (None, checkout_id):
        raise Declined(
            "This token is bound to another checkout.", "$.payment.instruments[0].credential.binding"
        )
    method = PaymentMethod(
        "pm_" + hashlib.sha256(handler.token(token).encode()).hexdigest()[:16],
        "card",
        handler.token(token),
        str(display.get("brand", ""))[:20],
        str(display.get("last_digits", ""))[-4:],
    )
    return echo, method
