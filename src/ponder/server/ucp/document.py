"""UCP documents: the constants, messages, and the checkout and error bodies as UCP writes them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import AnyUrl, TypeAdapter, ValidationError
from ucp_sdk.models.schemas.common.types.error_response import (  # type: ignore[import-untyped]
    ErrorResponse as UcpErrorResponse,
)
from ucp_sdk.models.schemas.shopping.fulfillment import Checkout  # type: ignore[import-untyped]
from ucp_sdk.models.schemas.shopping.types.fulfillment_create_request import (  # type: ignore[import-untyped]
    FulfillmentCreateRequest,
)
from ucp_sdk.models.schemas.shopping.types.shipping_destination_create_request import (  # type: ignore[import-untyped]
    ShippingDestinationCreateRequest,
)
from ucp_sdk.models.schemas.ucp import ResponseCheckoutSchema  # type: ignore[import-untyped]

from ponder.commerce.model import Address, PaymentMethod
from ponder.server.ucp.protocol import Refusal

VERSION = "2026-08-25"
SHOPPING = "dev.ucp.shopping"
CHECKOUT = "dev.ucp.shopping.checkout"
FULFILLMENT = "dev.ucp.shopping.fulfillment"
HANDLER = "dev.ponder.payment_token"  # our handler: a saved method by id, or the provider's token
SESSION_TTL_S = 6 * 3600  # the spec's default lifetime of a checkout
MAX_LINES = 50  # as a Ponder checkout (checkout.py)
SHIPPING_METHOD, PACKAGE, STANDARD = "shipping", "package_1", "standard"

INCOMPLETE, READY, ESCALATION = "incomplete", "ready_for_complete", "requires_escalation"
IN_PROGRESS, COMPLETED, CANCELED = "complete_in_progress", "completed", "canceled"
FINISHED = (COMPLETED, CANCELED)
FROZEN = (ESCALATION, IN_PROGRESS, COMPLETED, CANCELED)  # answered from the stored body, not re-priced

_URL = TypeAdapter(AnyUrl)


def error_response(code: str, content: str) -> dict[str, Any]:
    """A UCP ``ErrorResponse``: no checkout to show, one unrecoverable error."""
    body = {
        "ucp": {"version": VERSION, "status": "error"},
        "messages": [_error(code, content, severity="unrecoverable")],
    }
    dumped: dict[str, Any] = UcpErrorResponse.model_validate(body).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return dumped


def _not_found(checkout_id: str) -> Refusal:
    return Refusal(404, "not_found", f"No checkout session '{checkout_id}'.", envelope=True)


def _error(code: str, content: str, path: str | None = None, severity: str = "recoverable") -> dict[str, Any]:
    message = {"type": "error", "code": code, "content": content, "severity": severity}
    return message | ({"path": path} if path else {})


def _warning(code: str, content: str) -> dict[str, Any]:
    return {"type": "warning", "code": code, "content": content}


def _read_fulfillment(raw: Any) -> tuple[list[Address], str | None, str | None, list[dict[str, Any]]]:
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
            notes.append(_warning("method_unsupported", "This store only ships: other methods are ignored."))
        for method in shipping[:1]:
            given = (method.model_extra or {}).get("destinations") or []
            if not isinstance(given, list):
                raise Refusal(400, "invalid_request", "fulfillment.methods[].destinations must be a list.")
            for raw_destination in given:
                destination = ShippingDestinationCreateRequest.model_validate(raw_destination)
                address = _address(destination)
                if address is None:
                    if not destination.id:
                        notes.append(_error("invalid", "A destination without an address or an id."))
                    continue
                if not (address.line1 and address.city and address.country):
                    text = "A shipping address needs street_address, address_locality and address_country."
                    notes.append(_error("invalid", text, "$.fulfillment.methods[0].destinations"))
                    continue
                destinations.append(address)
                if destination.id:
                    aliases[destination.id] = address.id
            selected = method.selected_destination_id
            option = next((g.selected_option_id for g in method.groups or [] if g.selected_option_id), None)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise Refusal(400, "invalid_request", f"Invalid fulfillment: {where}: {first.get('msg')}") from None
    return destinations, aliases.get(selected, selected) if selected else None, option, notes


def _address(destination: Any) -> Address | None:
    """A platform-written shipping address, with an id derived from its content (the same address sent
    again is the same destination); None for a destination that only names an id."""
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
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    return Address(id="dest_" + digest, **fields)


def _destination(address: Address) -> dict[str, Any]:
    first, _, last = address.name.partition(" ")
    optional = {
        "extended_address": address.line2,
        "address_region": address.state,
        "postal_code": address.zip,
        "first_name": first,
        "last_name": last,
    }
    return {
        "id": address.id,
        "type": "shipping_address",
        "street_address": address.line1,
        "address_locality": address.city,
        "address_country": address.country,
    } | {k: v for k, v in optional.items() if v}


def _offered(method: PaymentMethod, handler_id: str) -> dict[str, Any]:
    display = {"brand": method.brand, "last_digits": method.last4}
    offered = {"id": method.id, "handler_id": handler_id, "type": method.kind}
    return offered | ({"display": {k: v for k, v in display.items() if v}} if any(display.values()) else {})


def _is_url(text: str) -> bool:
    """Whether a store's image URL is one UCP accepts (a store file may hold anything)."""
    try:
        return _URL.validate_python(text).scheme in ("http", "https")
    except ValidationError:
        return False


def _title(name: str, options: dict[str, str]) -> str:
    return f"{name} ({', '.join(f'{k} {v}' for k, v in options.items())})" if options else name


def _outcome(status: str, result: dict[str, Any] | None) -> dict[str, Any]:
    """The warning a checkout carries back to ``ready_for_complete`` when its confirmation ended unbought."""
    if status == "declined":
        return _warning("buyer_declined", "The buyer declined this order; nothing was bought.")
    if status == "failed":
        reason = (result or {}).get("error", "")
        return _warning(
            "order_failed", f"The order could not be placed; nothing was bought. {reason}".strip()
        )
    return _warning("confirmation_expired", "The buyer did not confirm in time; nothing was bought.")


def _frozen(body: dict[str, Any], status: str) -> dict[str, Any]:
    """The stored checkout moved to ``status``: no continue_url and no messages left to act on."""
    moved = {k: v for k, v in body.items() if k not in ("continue_url", "messages")}
    return moved | {"status": status}


def _with(body: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    return body | {"messages": [*body.get("messages", []), message]}


def _continue_url(base_url: str, checkout_id: str, token: str) -> str:
    return f"{base_url}/ucp/confirm/{checkout_id}#token={token}"


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` validated as a UCP checkout (with fulfillment) and serialized as the SDK does."""
    model = Checkout.model_validate(body | {"ucp": ResponseCheckoutSchema.model_validate(body["ucp"])})
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped
