"""The store's UCP documents in the released 2026-01-11 shapes, and 2026-01-11 requests read as the store's
own (2026-08-25) ones.

The checkout state machine writes and reads one shape, 2026-08-25's (document.py, ``ucp-sdk`` 0.5); a
platform on 2026-01-11 gets the same checkout rewritten here, and what it sends is rewritten the other way
before the state machine sees it. Every document is checked by the 2026-01-11 models generated from that
release's schemas (``v2026_01_11/``) before it leaves, and every request is validated by them as it comes.

What differs between the versions, and what this does about it:

- ``ucp`` metadata: capabilities are a list of ``{name, version, extends?}`` (2026-08-25: a map of lists),
  and there is no ``status`` nor ``payment_handlers`` in it.
- Payment: handlers live in the checkout's ``payment.handlers`` (and the profile's ``payment.handlers``), each
  with ``name``, ``spec``, ``config_schema`` and ``instrument_schemas``; an instrument is a card with
  ``brand`` and ``last_digits`` at its top level (2026-08-25: under ``display``), and the chosen one is
  ``payment.selected_instrument_id`` (2026-08-25: ``selected`` on the instrument). 2026-01-11 has card
  instruments only: a saved gift card or PayPal account is not offered to a platform on it.
- ``complete`` sends ``{"payment_data": instrument, "risk_signals": {...}}`` (2026-08-25: ``payment``).
- Discovery: ``services`` is a map of one service each, with its transports as members (``rest:
  {schema, endpoint}``), where 2026-08-25 has a map of lists.
- Errors: no ``ErrorResponse`` document; a request that cannot be served is an HTTP error whose body is
  ``{"status": ..., "messages": [...]}`` (checkout-rest.md, "Error Responses"), and severities are
  ``recoverable``, ``requires_buyer_input`` or ``requires_buyer_review`` (no ``unrecoverable``).

Line items, totals, links, buyer, fulfillment, ``continue_url``, ``expires_at`` and ``order`` have the same
shape in both versions and pass as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from ponder.commerce.payment_handlers import PaymentHandler
from ponder.commerce.ucp import document as doc
from ponder.commerce.ucp.errors import InvalidCheckoutRequest, first_problem
from ponder.commerce.ucp.requests import CONSENT_IDS
from ponder.commerce.ucp.v2026_01_11.discovery.profile_schema import UcpDiscoveryProfile
from ponder.commerce.ucp.v2026_01_11.schemas.shopping import (
    discount_resp,
    fulfillment_create_req,
    fulfillment_resp,
    fulfillment_update_req,
    payment_data,
)
from ponder.commerce.ucp.v2026_01_11.schemas.shopping import order as released_order

__all__ = [
    "VERSION",
    "checkout",
    "complete_request",
    "create_request",
    "error_body",
    "handler",
    "order",
    "profile",
    "update_request",
]

VERSION = "2026-01-11"
AP2_MANDATE = "dev.ucp.shopping.ap2_mandate"
_SPEC = "https://ucp.dev/specification"
_SCHEMAS = "https://ucp.dev/schemas/shopping"
_SEVERITIES = ("recoverable", "requires_buyer_input", "requires_buyer_review")


# --- what the store writes ----------------------------------------------------------------------------


def handler(base_url: str, taken: PaymentHandler) -> dict[str, Any]:
    """A payment handler of the store as 2026-01-11 describes one. The store's own handler's spec and config
    schema are served by this server (server/ucp/), its instruments are UCP cards; a configured handler's
    are what its owner publishes."""
    page = f"{base_url}/ucp/payment-handlers/{doc.HANDLER}"
    spec = taken.spec or page
    config_schema = taken.config_schema or f"{page}/config.json"
    instrument_schemas = list(taken.instrument_schemas)
    if taken.spec is None:
        instrument_schemas = [f"{_SCHEMAS}/types/card_payment_instrument.json"]
    return {
        "id": taken.id,
        "name": taken.name,
        "version": taken.version,
        "spec": spec,
        "config_schema": config_schema,
        "instrument_schemas": instrument_schemas,
        "config": dict(taken.config),
    }


def _capabilities(discovery: bool) -> list[dict[str, Any]]:
    """Checkout and its extensions: fulfillment, discount, and AP2 mandates (SD-JWT credentials)."""
    capabilities: list[dict[str, Any]] = [{"name": doc.CHECKOUT, "version": VERSION}]
    for name in (doc.FULFILLMENT, doc.DISCOUNT, doc.BUYER_CONSENT, AP2_MANDATE):
        capabilities.append({"name": name, "version": VERSION, "extends": doc.CHECKOUT})
    if discovery:
        capabilities.append({"name": doc.ORDER, "version": VERSION})  # read on its own: no extension
        for capability in capabilities:
            short = capability["name"].rsplit(".", 1)[1]
            spec = {AP2_MANDATE: "ap2-mandates", doc.BUYER_CONSENT: "buyer-consent"}.get(
                capability["name"], short
            )
            capability |= {"spec": f"{_SPEC}/{spec}", "schema": f"{_SCHEMAS}/{short}.json"}
            if capability["name"] == AP2_MANDATE:
                capability["config"] = {"vp_formats_supported": {"dc+sd-jwt": {}}}
    return capabilities


def profile(
    base_url: str, taken: Sequence[PaymentHandler], signing_key: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The business profile for platforms on 2026-01-11; ``signing_key``: the store's public key, which
    signs its checkouts (``ap2.merchant_authorization``)."""
    body = {
        "ucp": {
            "version": VERSION,
            "services": {
                doc.SHOPPING: {
                    "version": VERSION,
                    "spec": f"{_SPEC}/overview",
                    "rest": {
                        "schema": "https://ucp.dev/services/shopping/rest.openapi.json",
                        "endpoint": f"{base_url}/ucp",
                    },
                }
            },
            "capabilities": _capabilities(discovery=True),
        },
        "payment": {"handlers": [handler(base_url, h) for h in taken]},
    }
    if signing_key is not None:
        body["signing_keys"] = [signing_key]
    dumped: dict[str, Any] = UcpDiscoveryProfile.model_validate(body).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return dumped


def _instrument(canonical: dict[str, Any]) -> dict[str, Any] | None:
    """A 2026-08-25 instrument (offered or chosen) as a 2026-01-11 card, or None if it is no card."""
    display = canonical.get("display") or {}
    if canonical.get("type") != "card":
        return None
    return {
        "id": canonical["id"],
        "handler_id": canonical["handler_id"],
        "type": "card",
        "brand": str(display.get("brand") or "card"),
        "last_digits": str(display.get("last_digits") or ""),
    }


def checkout(body: dict[str, Any], base_url: str, taken: Sequence[PaymentHandler]) -> dict[str, Any]:
    """A checkout the store wrote (2026-08-25) as a platform on 2026-01-11 reads it."""
    rewritten = {
        k: v for k, v in body.items() if k not in ("ucp", "payment", "messages", "totals", "line_items")
    }
    # 2026-01-11's totals are all positive: a discount is an amount taken off, not a negative one.
    rewritten["totals"] = _positive(body["totals"])
    rewritten["line_items"] = [line | {"totals": _positive(line["totals"])} for line in body["line_items"]]
    rewritten["ucp"] = {"version": VERSION, "capabilities": _capabilities(discovery=False)}
    if "consent" in body.get("buyer", {}):  # 2026-01-11's consent: a yes or no per purpose
        consent = {CONSENT_IDS.get(k, k): v["granted"] for k, v in body["buyer"]["consent"].items()}
        rewritten["buyer"] = body["buyer"] | {"consent": consent}
    given = (body.get("payment") or {}).get("instruments") or []
    payment: dict[str, Any] = {"handlers": [handler(base_url, h) for h in taken]}
    payment["instruments"] = [card for card in map(_instrument, given) if card is not None]  # [] : none
    chosen = next((i["id"] for i in given if i.get("selected")), None)
    if chosen is not None:
        payment["selected_instrument_id"] = chosen
    rewritten["payment"] = payment
    if body.get("messages"):
        rewritten["messages"] = [_message(m) for m in body["messages"]]
    model = fulfillment_resp.Checkout.model_validate(rewritten)
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    if "discounts" in body:
        dumped["discounts"] = discount_resp.DiscountsObject.model_validate(body["discounts"]).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    return dumped


def order(body: dict[str, Any]) -> dict[str, Any]:
    """An order the store wrote (2026-08-25, order_documents.py) as a platform on 2026-01-11 reads it: a
    line returned or exchanged since is left out (2026-01-11 has no ``removed`` line; the refund is in
    ``adjustments``), an adjustment carries its ``amount``, totals are positive."""
    rewritten = {k: v for k, v in body.items() if k not in ("ucp", "line_items", "totals", "adjustments")}
    rewritten["ucp"] = {"version": VERSION, "capabilities": [{"name": doc.ORDER, "version": VERSION}]}
    rewritten["line_items"] = [
        line | {"totals": _positive(line["totals"])}
        for line in body["line_items"]
        if line["status"] != "removed"
    ]
    rewritten["totals"] = _positive(body["totals"])
    rewritten["adjustments"] = [
        {k: v for k, v in a.items() if k != "totals"} | {"amount": abs(int(a["totals"][-1]["amount"]))}
        for a in body.get("adjustments", [])
    ]
    dumped: dict[str, Any] = released_order.Order.model_validate(rewritten).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return dumped


def _positive(totals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t | {"amount": abs(int(t["amount"]))} for t in totals]


def _message(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("type") == "error" and message.get("severity") not in _SEVERITIES:
        return message | {"severity": "requires_buyer_input"}
    return message


def error_body(messages: list[dict[str, Any]], status: str = "requires_escalation") -> dict[str, Any]:
    """The body of an HTTP error in 2026-01-11: the status and the messages that say why."""
    return {"status": status, "messages": [_message(m) for m in messages]}


# --- what a platform sends ----------------------------------------------------------------------------


def _validated(model: Any, raw: Any, what: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise InvalidCheckoutRequest(
            f"Invalid {what} request (UCP {VERSION}): {first_problem(err)}"
        ) from None


def _payment(raw: dict[str, Any]) -> dict[str, Any]:
    """A 2026-01-11 ``payment`` ({selected_instrument_id, instruments}) as a 2026-08-25 one."""
    selected = raw.get("selected_instrument_id")
    instruments = [
        _canonical_instrument(i, selected=i.get("id") == selected) for i in raw.get("instruments") or []
    ]
    return {"instruments": instruments} if instruments else {}


def _canonical_instrument(raw: dict[str, Any], *, selected: bool) -> dict[str, Any]:
    display = {k: raw[k] for k in ("brand", "last_digits") if raw.get(k)}
    moved = ("brand", "last_digits", "expiry_month", "expiry_year", "rich_text_description", "rich_card_art")
    instrument = {k: v for k, v in raw.items() if k not in moved}
    if display:
        instrument["display"] = display
    return instrument | ({"selected": True} if selected else {})


def _canonical(raw: dict[str, Any]) -> dict[str, Any]:
    """A 2026-01-11 create or update body (already validated) as 2026-08-25's: the same but for payment."""
    moved = {k: v for k, v in raw.items() if k not in ("payment", "currency", "id")}
    payment = _payment(raw.get("payment") or {})
    return moved | ({"payment": payment} if payment else {})


def create_request(raw: Any) -> dict[str, Any]:
    """A 2026-01-11 create body, validated, as the 2026-08-25 body the state machine reads."""
    _validated(fulfillment_create_req.Checkout, raw, "create")
    return _canonical(raw)


def update_request(raw: Any, checkout_id: str) -> dict[str, Any]:
    """A 2026-01-11 update body, validated, as the 2026-08-25 body the state machine reads. Its ``id`` must
    be the checkout's."""
    _validated(fulfillment_update_req.Checkout, raw, "update")
    if raw.get("id") != checkout_id:
        raise InvalidCheckoutRequest(
            f"The body's id '{raw.get('id')}' is not this checkout's ('{checkout_id}')."
        )
    return _canonical(raw)


def complete_request(raw: Any) -> dict[str, Any]:
    """A 2026-01-11 complete body (``payment_data``), validated, as the 2026-08-25 body (``payment``)."""
    _validated(payment_data.PaymentData, raw, "complete")
    instrument = _canonical_instrument(raw["payment_data"], selected=True)
    ap2 = {"ap2": raw["ap2"]} if isinstance(raw.get("ap2"), dict) else {}  # a checkout mandate, if any
    return {"payment": {"instruments": [instrument]}} | ap2
