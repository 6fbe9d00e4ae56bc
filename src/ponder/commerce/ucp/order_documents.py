"""UCP's order capability (``dev.ucp.shopping.order``): an order a checkout became, as the agent that drove
the checkout reads it: its lines with how many were delivered, where it ships, the store's shipping events
(with carrier and tracking number), the refunds and returns since, and its totals.

The store's order (``OrderView``) maps to it this way:

- a line is ``li_<seq>``; ``quantity.total`` what was bought, ``quantity.fulfilled`` all of it once the
  order is delivered (Ponder ships an order whole), and ``status`` ``fulfilled`` then, else ``processing``;
  a line returned or exchanged since is ``removed`` (its replacement is a line of its own);
- ``fulfillment.expectations``: one shipment of every line to the order's address; ``events``: each move to
  ``processed`` (``shipped``) and ``delivered``, with the carrier and tracking number the store gave;
- ``adjustments``: each refund (a cancellation, a return, an item changed for a cheaper one) and each
  further charge (an item changed for a dearer one), ``completed`` once sent;
- ``totals``: the items, what discounts took off them (negative, as 2026-08-25 signs it), the shipping,
  and what the order costs now.

Written in 2026-08-25's shapes and checked by ``ucp-sdk``'s model; shapes_2026_01_11.py rewrites it for
the released version. Not here: who may read it (checkouts.py), HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ucp_sdk.models.schemas.shopping.order import Order  # type: ignore[import-untyped]

from ponder.commerce.order_records import OrderView, paid_for
from ponder.commerce.ucp import document as doc

__all__ = ["ORDER_EVENT", "order_document"]

# The job an order of an agent's checkout queues with each of its changes (order_records.notify): the
# server sends the agent's platform the order as it is then (server/ucp/webhooks.py).
ORDER_EVENT = "ucp.order_event"

_EVENTS = {"processed": "shipped", "delivered": "delivered"}


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def order_document(order: OrderView, checkout_id: str, base_url: str) -> dict[str, Any]:
    """``order``, which checkout ``checkout_id`` became, as UCP's order entity (2026-08-25)."""
    delivered = order["status"] == "delivered"
    lines: list[dict[str, Any]] = []
    for item in order["items"]:
        done = item["state"] == "ordered"
        status = "removed" if not done else "fulfilled" if delivered else "processing"
        amount = item["price"] * item["quantity"]
        totals = [{"type": "subtotal", "amount": amount}]
        if item["discount"]:
            totals.append({"type": "items_discount", "amount": -item["discount"]})
        lines.append(
            {
                "id": f"li_{item['seq']}",
                "item": {
                    "id": item["variant_id"],
                    "title": doc.title(item["name"], item["options"]),
                    "price": item["price"],
                },
                "quantity": {
                    "total": item["quantity"],
                    "fulfilled": item["quantity"] if delivered and done else 0,
                },
                "totals": [*totals, {"type": "total", "amount": paid_for(item)}],
                "status": status,
            }
        )
    shipped = [
        {"id": line["id"], "quantity": line["quantity"]["total"]}
        for line in lines
        if line["status"] != "removed"
    ]
    fulfillment: dict[str, Any] = {"events": _events(order, shipped)}
    if order["address"] and shipped:
        fulfillment["expectations"] = [
            {
                "id": "shipment_1",
                "line_items": shipped,
                "method_type": "shipping",
                "destination": _postal(order["address"]),
            }
        ]
    subtotal = sum(item["price"] * item["quantity"] for item in order["items"] if item["state"] == "ordered")
    discount = sum(item["discount"] for item in order["items"] if item["state"] == "ordered")
    totals = [{"type": "subtotal", "amount": subtotal}]
    if discount:
        totals.append({"type": "items_discount", "amount": -discount})
    if order["shipping_option"]:
        totals.append({"type": "fulfillment", "amount": order["shipping"]})
    body: dict[str, Any] = {
        "ucp": {
            "version": doc.VERSION,
            "status": "success",
            "capabilities": {doc.ORDER: [{"version": doc.VERSION}]},
        },
        "id": order["id"],
        "checkout_id": checkout_id,
        "permalink_url": f"{base_url}/ucp/confirm/{checkout_id}",
        "line_items": lines,
        "fulfillment": fulfillment,
        "adjustments": _adjustments(order),
        "currency": order["currency"],
        "totals": [*totals, {"type": "total", "amount": order["total"]}],
    }
    dumped: dict[str, Any] = Order.model_validate(body).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return dumped


def _events(order: OrderView, shipped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events = []
    for n, event in enumerate(order["history"]):
        kind = _EVENTS.get(event["status"])
        if kind is None or not shipped:
            continue
        entry: dict[str, Any] = {
            "id": f"evt_{n}",
            "occurred_at": _when(event["at"]),
            "type": kind,
            "line_items": shipped,
        }
        if event["carrier"]:
            entry["carrier"] = event["carrier"]
        if event["tracking_number"]:
            entry["tracking_number"] = event["tracking_number"]
        if event["note"]:
            entry["description"] = event["note"]
        events.append(entry)
    return events


def _adjustments(order: OrderView) -> list[dict[str, Any]]:
    """Every payment after the order's first charge: refunds, and charges for dearer items."""
    adjustments = []
    for n, payment in enumerate(order["payments"][1:], start=1):
        adjustments.append(
            {
                "id": f"adj_{n}",
                "type": "charge" if payment["kind"] == "charge" else "refund",
                "occurred_at": _when(payment["at"]),
                "status": "completed" if payment["reference"] or payment["method_id"] else "pending",
                "totals": [{"type": "total", "amount": payment["amount"]}],
            }
        )
    return adjustments


def _postal(address: dict[str, Any]) -> dict[str, Any]:
    fields = {
        "street_address": address.get("line1"),
        "extended_address": address.get("line2"),
        "address_locality": address.get("city"),
        "address_region": address.get("state"),
        "postal_code": address.get("zip"),
        "address_country": address.get("country"),
        "full_name": address.get("name"),
    }
    return {k: v for k, v in fields.items() if v}
