"""UCP documents as this store writes them: the version and capability names, the checkout statuses, messages,
the ``ErrorResponse``, and the pieces of a checkout (destinations, offered instruments, line titles), each
checked by the ``ucp-sdk`` models before it leaves.

Not here: reading what a platform sent (requests.py), pricing (pricing.py), the status machine (checkouts.py).
Nothing here knows HTTP: which status carries a document is the server's business (server/ucp/).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import AnyUrl, TypeAdapter, ValidationError
from ucp_sdk.models.schemas.common.types.error_response import (  # type: ignore[import-untyped]
    ErrorResponse as UcpErrorResponse,
)
from ucp_sdk.models.schemas.profile import BusinessSchema as BusinessProfile  # type: ignore[import-untyped]
from ucp_sdk.models.schemas.shopping.buyer_consent import Buyer as ConsentBuyer  # type: ignore[import-untyped]
from ucp_sdk.models.schemas.shopping.discount import DiscountsObject  # type: ignore[import-untyped]
from ucp_sdk.models.schemas.shopping.fulfillment import Checkout  # type: ignore[import-untyped]
from ucp_sdk.models.schemas.ucp import ResponseCheckoutSchema  # type: ignore[import-untyped]

from ponder.commerce.model import Address, PaymentMethod
from ponder.commerce.payment_handlers import BUILTIN_NAME, PaymentHandler

VERSION = "2026-08-25"
SHOPPING = "dev.ucp.shopping"
CHECKOUT = "dev.ucp.shopping.checkout"
FULFILLMENT = "dev.ucp.shopping.fulfillment"
DISCOUNT = "dev.ucp.shopping.discount"
ORDER = "dev.ucp.shopping.order"
BUYER_CONSENT = "dev.ucp.shopping.buyer_consent"
CONSENT_PURPOSES = {  # purpose -> (2026-08-25's id, what the buyer is told)
    "marketing": ("dev.ucp.consent.marketing", "Promotional communications from the store"),
    "analytics": ("dev.ucp.consent.analytics", "Analytics and performance measurement"),
    "preferences": ("dev.ucp.consent.preferences", "Remembering the buyer's preferences"),
    "sale_of_data": ("dev.ucp.consent.sale_or_sharing", "Selling or sharing the buyer's data"),
}
HANDLER = BUILTIN_NAME  # the store's own handler: a saved method by id, or the provider's token
SESSION_TTL_S = 6 * 3600  # the spec's default lifetime of a checkout
MAX_LINES = 50  # as a Ponder checkout (checkout.py)
SHIPPING_METHOD, PACKAGE, STANDARD = "shipping", "package_1", "standard"

INCOMPLETE, READY, ESCALATION = "incomplete", "ready_for_complete", "requires_escalation"
IN_PROGRESS, COMPLETED, CANCELED = "complete_in_progress", "completed", "canceled"
FINISHED = (COMPLETED, CANCELED)
FROZEN = (ESCALATION, IN_PROGRESS, COMPLETED, CANCELED)  # answered from the stored body, not re-priced

_URL = TypeAdapter(AnyUrl)


def handlers(taken: Sequence[PaymentHandler]) -> dict[str, list[dict[str, Any]]]:
    """The store's payment handlers (commerce/payment_handlers.py) as 2026-08-25's ``payment_handlers``: by
    reverse-DNS name, each with its id, instrument types and published config."""
    described: dict[str, list[dict[str, Any]]] = {}
    for h in taken:
        one: dict[str, Any] = {"id": h.id, "version": VERSION if h.name == HANDLER else h.version}
        if h.spec is not None:
            one |= {"spec": h.spec, "schema": h.config_schema}
        one |= {"available_instruments": [{"type": t} for t in h.instruments], "config": dict(h.config)}
        described.setdefault(h.name, []).append(one)
    return described


def profile(
    base_url: str, taken: Sequence[PaymentHandler], older: dict[str, str] | None = None
) -> dict[str, Any]:
    """The business profile in this version; ``older``: the older versions this store also speaks, each to
    the URL of its own profile (UCP's ``supported_versions``; a version's own leaf profile has none)."""
    body = {
        "ucp": {
            "version": VERSION,
            **({"supported_versions": older} if older else {}),
            "services": {
                SHOPPING: [
                    {
                        "version": VERSION,
                        "spec": f"https://ucp.dev/{VERSION}/specification/overview/",
                        "transport": "rest",
                        "schema": f"https://ucp.dev/{VERSION}/services/shopping/rest.openapi.json",
                        "endpoint": f"{base_url}/ucp",
                    }
                ]
            },
            "capabilities": {
                CHECKOUT: [
                    {
                        "version": VERSION,
                        "spec": f"https://ucp.dev/{VERSION}/specification/shopping/checkout/",
                        "schema": f"https://ucp.dev/{VERSION}/schemas/shopping/checkout.json",
                    }
                ],
                FULFILLMENT: [
                    {
                        "version": VERSION,
                        "schema": f"https://ucp.dev/{VERSION}/schemas/shopping/fulfillment.json",
                        "extends": CHECKOUT,
                    }
                ],
                DISCOUNT: [
                    {
                        "version": VERSION,
                        "spec": f"https://ucp.dev/{VERSION}/specification/discount/",
                        "schema": f"https://ucp.dev/{VERSION}/schemas/shopping/discount.json",
                        "extends": CHECKOUT,
                    }
                ],
                BUYER_CONSENT: [
                    {
                        "version": VERSION,
                        "spec": f"https://ucp.dev/{VERSION}/specification/buyer-consent/",
                        "schema": f"https://ucp.dev/{VERSION}/schemas/shopping/buyer_consent.json",
                        "extends": CHECKOUT,
                    }
                ],
                ORDER: [
                    {
                        "version": VERSION,
                        "spec": f"https://ucp.dev/{VERSION}/specification/order/",
                        "schema": f"https://ucp.dev/{VERSION}/schemas/shopping/order.json",
                    }
                ],
            },
            "payment_handlers": handlers(taken),
        }
    }
    dumped: dict[str, Any] = BusinessProfile.model_validate(body).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return dumped


def envelope(taken: Sequence[PaymentHandler]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "status": "success",
        "capabilities": {
            CHECKOUT: [{"version": VERSION}],
            FULFILLMENT: [{"version": VERSION, "extends": CHECKOUT}],
            DISCOUNT: [{"version": VERSION, "extends": CHECKOUT}],
            BUYER_CONSENT: [{"version": VERSION, "extends": CHECKOUT}],
        },
        "payment_handlers": handlers(taken),
    }


def error_response(code: str, content: str, why: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A UCP ``ErrorResponse``: no checkout to show, one unrecoverable error; ``why``: the messages that
    say what each part of the request ran into, after it."""
    body = {
        "ucp": {"version": VERSION, "status": "error"},
        "messages": [error(code, content, severity="unrecoverable"), *(why or [])],
    }
    dumped: dict[str, Any] = UcpErrorResponse.model_validate(body).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return dumped


def consent(choices: dict[str, bool]) -> dict[str, Any]:
    """A buyer's consent (purpose -> granted) as 2026-08-25's buyer-consent extension writes it."""
    return {
        CONSENT_PURPOSES[p][0]: {"granted": g, "source": "platform", "description": CONSENT_PURPOSES[p][1]}
        for p, g in choices.items()
        if p in CONSENT_PURPOSES
    }


def error(code: str, content: str, path: str | None = None, severity: str = "recoverable") -> dict[str, Any]:
    message = {"type": "error", "code": code, "content": content, "severity": severity}
    return message | ({"path": path} if path else {})


def warning(code: str, content: str) -> dict[str, Any]:
    return {"type": "warning", "code": code, "content": content}


def destination(address: Address) -> dict[str, Any]:
    first, _, last = address.name.partition(" ")
    optional = {
        "extended_address": address.line2,
        "address_region": address.state,
        "postal_code": address.zip,
        "first_name": first,
        "last_name": last,
    }
    given = {
        "street_address": address.line1,
        "address_locality": address.city,
        "address_country": address.country,
    } | optional
    return {"id": address.id, "type": "shipping_address"} | {k: v for k, v in given.items() if v}


def offered(method: PaymentMethod, handler_id: str) -> dict[str, Any]:
    display = {"brand": method.brand, "last_digits": method.last4}
    offered = {"id": method.id, "handler_id": handler_id, "type": method.kind}
    return offered | ({"display": {k: v for k, v in display.items() if v}} if any(display.values()) else {})


def is_url(text: str) -> bool:
    """Whether a store's image URL is one UCP accepts (a store file may hold anything)."""
    try:
        return _URL.validate_python(text).scheme in ("http", "https")
    except ValidationError:
        return False


def title(name: str, options: dict[str, str]) -> str:
    return f"{name} ({', '.join(f'{k} {v}' for k, v in options.items())})" if options else name


def outcome(status: str, result: dict[str, Any] | None) -> dict[str, Any]:
    """The warning a checkout carries back to ``ready_for_complete`` when its confirmation ended unbought."""
    if status == "declined":
        return warning("buyer_declined", "The buyer declined this order; nothing was bought.")
    if status == "failed":
        reason = (result or {}).get("error", "")
        return warning("order_failed", f"The order could not be placed; nothing was bought. {reason}".strip())
    return warning("confirmation_expired", "The buyer did not confirm in time; nothing was bought.")


def frozen(body: dict[str, Any], status: str) -> dict[str, Any]:
    """The stored checkout moved to ``status``: no continue_url and no messages left to act on."""
    moved = {k: v for k, v in body.items() if k not in ("continue_url", "messages")}
    return moved | {"status": status}


def with_message(body: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    return body | {"messages": [*body.get("messages", []), message]}


def continue_url(base_url: str, checkout_id: str, token: str) -> str:
    return f"{base_url}/ucp/confirm/{checkout_id}#token={token}"


def checked(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` validated as a UCP checkout (with fulfillment) and serialized as the SDK does."""
    model = Checkout.model_validate(body | {"ucp": ResponseCheckoutSchema.model_validate(body["ucp"])})
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    if "consent" in body.get("buyer", {}):  # the buyer-consent extension's part, by its own model
        dumped["buyer"] = ConsentBuyer.model_validate(body["buyer"]).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    if "discounts" in body:  # the discount extension's part, checked by its own model
        dumped["discounts"] = DiscountsObject.model_validate(body["discounts"]).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    return dumped
