"""``/v1/orders``: a customer's orders, and the store moving an order forward as it ships.

- ``GET /v1/orders?user=``: the customer's orders (items, total, payments, status history), newest first.
- ``POST /v1/orders/{order_id}/status`` with ``{"status": "processed" | "delivered" | "received", "note":
  "..."}``: the store's own step (a warehouse system, a carrier's webhook relay), taken with the account's
  API key like every call of this API. The customer confirms nothing; an order only moves forward
  (``OrderBook.advance``), and under its lock, so a cancellation racing it either wins or is refused. No
  money moves, except at "received" in a store whose returns and exchanges wait for the items
  (``StoreRules.money_moves``): the return they confirmed is refunded, the exchange made.

The commerce layer answers with ``OrderView``s and ``PonderError``s; this module makes the wire shape (an
order is ``{"object": "order", ...}``) and the app maps the errors to HTTP statuses (server/errors.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.commerce.order_records import OrderView
from ponder.commerce.shop import Shop
from ponder.memory.owner import Owner
from ponder.server.memory import _run

__all__ = ["StatusChange", "advance", "list_orders", "order_json"]


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["processed", "delivered", "received"] = Field(
        description="Where the order is now; received: the items of its waiting return or exchange are back."
    )
    note: str = Field(default="", max_length=200, description="Kept in the order's history.")
    carrier: str = Field(default="", max_length=100, description="Who carries the shipment.")
    tracking_number: str = Field(default="", max_length=100, description="The shipment's tracking number.")


async def list_orders(shop: Shop, owner: Owner) -> dict[str, Any]:
    found = await _run(lambda: shop.orders.list_orders(owner))
    return {"object": "list", "data": [order_json(order) for order in found]}


async def advance(shop: Shop, account: str, order_id: str, change: StatusChange) -> dict[str, Any]:
    return order_json(
        await _run(
            lambda: shop.orders.advance(
                account,
                order_id,
                change.status,
                change.note,
                carrier=change.carrier,
                tracking_number=change.tracking_number,
            )
        )
    )


def order_json(order: OrderView) -> dict[str, Any]:
    """An order as the API sends it."""
    return {"object": "order", **order}
