"""An order's rows: reading one whole, writing a new one, its status history, and the version a change is
decided on.

``orders`` holds the order (status, address, total, the payment method checkout used), ``order_items`` its
lines (numbered by ``seq``; ``state`` is ordered, returned or exchanged), ``order_events`` its history (every
status change and every change of items or address, with a note and the request that made it) and
``payments`` its charges and refunds (refunds.py keeps that ledger). Everything here runs in the caller's
connection; locking and the rules of what may change are orders.py's and swaps.py's.

An order is read as an ``OrderView``: typed plain data (a ``TypedDict``, so it goes as it is into a tool
result, an action's stored result or a log), the domain's view of the order. It carries no wire markers:
the server layer makes the HTTP shape (``"object": "order"``, server/orders.py).

Not here: the rules (orders.py, swaps.py), money (refunds.py, inventory.py), checkout (checkout.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Literal, TypedDict

from sqlalchemy.engine import Connection

from ponder.commerce.model import OrderStatus, PaymentKind
from ponder.commerce.refunds import record_payment
from ponder.errors import ConflictError, NotFoundError
from ponder.memory.owner import Owner
from ponder.store.database import sql
from ponder.store.jobs import enqueue

__all__ = [
    "AppliedDiscount",
    "ItemState",
    "OrderEvent",
    "OrderLine",
    "OrderPayment",
    "OrderView",
    "UnknownOrderError",
    "add_event",
    "check_version",
    "insert_order",
    "made_by",
    "notify",
    "paid",
    "paid_for",
    "read_order",
    "set_status",
    "set_waiting",
    "version",
]


ItemState = Literal["ordered", "returned", "exchanged"]


class OrderLine(TypedDict):
    """An item of an order, numbered by ``seq`` (what changes, returns and exchanges name)."""

    seq: int
    variant_id: str
    product_id: str
    name: str
    options: dict[str, str]  # option name -> value, e.g. {"size": "M"}
    price: int  # minor units, each
    quantity: int
    discount: int  # minor units, the whole line's share of the order's discounts: it paid price*quantity-this
    state: ItemState


class OrderEvent(TypedDict):
    """A row of the order's history: the status it was in after the change, and why; a shipping event's
    carrier and tracking number ("" : none given)."""

    status: OrderStatus
    note: str
    at: float
    carrier: str
    tracking_number: str


class OrderPayment(TypedDict):
    """A charge or refund of the order (refunds.py keeps the ledger)."""

    kind: PaymentKind
    amount: int  # minor units
    method_id: str
    reference: str  # the provider's charge or refund id ("" : a gift card, imported, or not sent yet)
    at: float


class AppliedDiscount(TypedDict):
    """A discount the order was placed with: a code's, or an automatic promotion's (``code`` None)."""

    code: str | None
    title: str
    amount: int  # minor units taken off


class OrderView(TypedDict):
    """An order as the domain shows it: what it costs now, where it ships, its items, payments, history."""

    id: str
    status: OrderStatus
    currency: str
    total: int  # minor units: checkout's charge plus or minus the differences of item changes
    shipping: int  # minor units, in the total ("" option and 0: a store without shipping options)
    shipping_option: str
    discounts: list[AppliedDiscount]
    address: dict[str, Any] | None  # an ``Address`` as a dict (None: an imported order without one)
    payment_method_id: str
    items: list[OrderLine]
    history: list[OrderEvent]
    payments: list[OrderPayment]
    created_at: float
    waiting: dict[str, Any] | None  # a return or an exchange waiting for the items (model.Order.waiting)


class UnknownOrderError(NotFoundError):
    """No such order for this customer."""


def read_order(db: Connection, owner: Owner, order_id: str) -> OrderView:
    """The order, read in the caller's connection: items, total, address, payments and status history;
    ``UnknownOrderError`` if this user has no such order."""
    row = (
        db.execute(
            sql("SELECT * FROM orders WHERE account = :account AND user_id = :user AND id = :id"),
            owner.params(id=order_id),
        )
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownOrderError(f"No order '{order_id}' for user '{owner.user}'.")
    args = {"account": owner.account, "id": order_id}
    items = db.execute(
        sql("SELECT * FROM order_items WHERE account = :account AND order_id = :id ORDER BY seq"), args
    ).mappings()
    events = db.execute(
        sql(
            "SELECT status, note, at, carrier, tracking_number FROM order_events "
            "WHERE account = :account AND order_id = :id ORDER BY seq"
        ),
        args,
    ).mappings()
    payments = db.execute(
        sql(
            "SELECT kind, amount, method_id, provider_ref, at FROM payments "
            "WHERE account = :account AND order_id = :id ORDER BY seq"
        ),
        args,
    ).mappings()
    return {
        "id": order_id,
        "status": row["status"],
        "currency": row["currency"],
        "total": int(row["total"]),
        "shipping": int(row["shipping"]),
        "shipping_option": row["shipping_option"],
        "discounts": json.loads(row["discounts"]),
        "address": json.loads(row["address"]),
        "payment_method_id": row["payment_method_id"],
        "items": [
            {
                "seq": int(i["seq"]),
                "variant_id": i["variant_id"],
                "product_id": i["product_id"],
                "name": i["name"],
                "options": json.loads(i["options"]),
                "price": int(i["price"]),
                "quantity": int(i["quantity"]),
                "discount": int(i["discount"]),
                "state": i["state"],
            }
            for i in items
        ],
        "history": [
            {
                "status": e["status"],
                "note": e["note"],
                "at": e["at"],
                "carrier": e["carrier"],
                "tracking_number": e["tracking_number"],
            }
            for e in events
        ],
        "payments": [
            {
                "kind": p["kind"],
                "amount": int(p["amount"]),
                "method_id": p["method_id"],
                "reference": p["provider_ref"],
                "at": p["at"],
            }
            for p in payments
        ],
        "created_at": row["created_at"],
        "waiting": json.loads(row["waiting"]) if row["waiting"] else None,
    }


def set_waiting(db: Connection, account: str, order_id: str, waiting: dict[str, Any] | None) -> None:
    """Record (or, with None, clear) the return or exchange waiting for the store to receive the items."""
    db.execute(
        sql("UPDATE orders SET waiting = :waiting WHERE account = :account AND id = :id"),
        {"account": account, "id": order_id, "waiting": json.dumps(waiting) if waiting else ""},
    )


def insert_order(db: Connection, owner: Owner, plan: dict[str, Any], charge_id: str) -> None:
    """A new paid order from checkout's plan, in checkout's transaction."""
    now = time.time()
    args = {"account": owner.account, "order": plan["order_id"]}
    db.execute(
        sql(
            "INSERT INTO orders (account, id, user_id, status, address, currency, total, shipping, "
            "shipping_option, discounts, watchers, payment_method_id, created_at, updated_at) VALUES "
            "(:account, :order, :user, 'pending', :address, :currency, :total, :shipping, :option, "
            ":discounts, :watchers, :method, :now, :now)"
        ),
        args
        | {
            "user": owner.user,
            "address": json.dumps(plan["address"]),
            "currency": plan["currency"],
            "total": plan["total"],
            "shipping": plan.get("shipping", 0),
            "option": plan.get("shipping_option", ""),
            "discounts": json.dumps(plan.get("discounts", [])),
            "watchers": json.dumps(plan.get("watchers", [])),
            "method": plan["method"]["id"],
            "now": now,
        },
    )
    db.execute(
        sql(
            "INSERT INTO order_items (account, order_id, seq, variant_id, product_id, name, options, "
            "price, quantity, discount) VALUES (:account, :order, :seq, :variant, :product, :name, "
            ":options, :price, :quantity, :discount)"
        ),
        [
            args
            | {
                "seq": i,
                "variant": item["variant_id"],
                "product": item["product_id"],
                "name": item["name"],
                "options": json.dumps(item["options"]),
                "price": item["price"],
                "quantity": item["quantity"],
                "discount": item.get("discount", 0),
            }
            for i, item in enumerate(plan["items"])
        ],
    )
    add_event(db, owner.account, plan["order_id"], "pending", "placed", now)
    notify(db, owner.account, plan["order_id"], "placed")
    record_payment(
        db, owner.account, plan["order_id"], "charge", plan["total"], plan["method"]["id"], charge_id, now
    )


def paid_for(item: OrderLine) -> int:
    """What the buyer paid for an order line: its price times its quantity, less its share of discounts."""
    return item["price"] * item["quantity"] - item["discount"]


def set_status(
    db: Connection,
    account: str,
    order_id: str,
    status: str,
    note: str,
    request_key: str = "",
    *,
    carrier: str = "",
    tracking_number: str = "",
) -> None:
    """Move the order to ``status`` and say why in its history (with a shipment's carrier and tracking)."""
    now = time.time()
    db.execute(
        sql("UPDATE orders SET status = :status, updated_at = :now WHERE account = :account AND id = :id"),
        {"account": account, "id": order_id, "status": status, "now": now},
    )
    add_event(db, account, order_id, status, note, now, request_key, carrier, tracking_number)
    notify(db, account, order_id, status)


def add_event(
    db: Connection,
    account: str,
    order_id: str,
    status: str,
    note: str,
    at: float,
    request_key: str = "",
    carrier: str = "",
    tracking_number: str = "",
) -> None:
    """Append to the order's history; ``request_key``: the request (a confirmed action) that made it."""
    db.execute(
        sql(
            "INSERT INTO order_events (account, order_id, seq, status, note, at, request_key, carrier, "
            "tracking_number) VALUES (:account, :order, (SELECT COALESCE(MAX(seq), -1) + 1 FROM order_events "
            "WHERE account = :account AND order_id = :order), :status, :note, :at, :key, :carrier, :tracking)"
        ),
        {
            "account": account,
            "order": order_id,
            "status": status,
            "note": note,
            "at": at,
            "key": request_key,
            "carrier": carrier,
            "tracking": tracking_number,
        },
    )


def notify(db: Connection, account: str, order_id: str, event: str) -> None:
    """Queue a job for each of the order's watchers (``{"kind", "payload"}``, given at checkout) saying
    ``event`` happened to it, in the caller's transaction: the change and its news commit together."""
    row = db.execute(
        sql(
            "SELECT watchers, (SELECT COALESCE(MAX(seq), 0) FROM order_events WHERE account = :account "
            "AND order_id = :order) AS seq FROM orders WHERE account = :account AND id = :order"
        ),
        {"account": account, "order": order_id},
    ).first()
    if row is None:
        return
    for watcher in json.loads(row[0]):
        payload = watcher["payload"] | {"order_id": order_id, "event": event}
        enqueue(db, watcher["kind"], f"{account}:{order_id}:{row[1]}", payload)


def made_by(db: Connection, account: str, order_id: str, request_key: str | None) -> bool:
    """Whether the request ``request_key`` already changed this order (its retry must not refuse it)."""
    if not request_key:
        return False
    found = db.execute(
        sql(
            "SELECT 1 FROM order_events WHERE account = :account AND order_id = :order AND request_key = :key"
        ),
        {"account": account, "order": order_id, "key": request_key},
    ).first()
    return found is not None


def paid(order: OrderView) -> int:
    """What the order's payments add up to: charges minus refunds."""
    return sum(p["amount"] if p["kind"] == "charge" else -p["amount"] for p in order["payments"])


def version(order: OrderView) -> str:
    """A digest of everything a change to the order was decided on: status, items, address, total, and
    how many changes it has had (each adds to the history and may add payments)."""
    return digest(
        order["status"],
        order["total"],
        order["address"],
        [[i["seq"], i["variant_id"], i["price"], i["quantity"], i["state"]] for i in order["items"]],
        len(order["history"]),
        len(order["payments"]),
    )


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def check_version(order_id: str, current: str, expected: str | None) -> None:
    """``ConflictError`` unless the order is still at the ``expected`` version (None: no expectation)."""
    if expected is not None and current != expected:
        raise ConflictError(f"Order {order_id} changed after this change was proposed; nothing was changed.")
