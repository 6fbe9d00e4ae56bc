"""A store written back as tau2-bench's retail ``db.json`` (``tau2_document``): the reverse of tau2.py's
import, so a tau2 database imported and exported with nothing done in between is tau2's own again.

What each part becomes (tau2.py says how it was read):

- products and variants: dollars from cents, ``available`` as kept;
- customers (those with a name, an email or an address): ``name`` split at its first space into first and
  last name; the address ``"default"`` (or the first) is the user's address; cards, PayPal and gift cards
  (balance in dollars) by id; the user's ``orders`` in the order of their times (the import keeps tau2's
  list order in them);
- orders: the status in tau2's words (``tau2_status``: a pending order whose items changed is
  ``"pending (item modified)"``); each shipment in the history with a tracking number is a fulfillment
  (its items from the row's note); a cancellation's reason from its history; payments as payment or
  refund.

A return or an exchange waiting for the store to receive the items (``Order.waiting``, in a store whose
money moves then: tau2's rules) is written as tau2 records one (``return_items``, ``exchange_*``).
"""

from __future__ import annotations

from typing import Any

from ponder.commerce.formats.tau2 import SHIPPED_NOTE, tau2_status
from ponder.commerce.model import CANCELLED_NOTE, Address, Customer, Order, PaymentMethod, StoreData

__all__ = ["tau2_document"]


def tau2_document(store: StoreData) -> dict[str, Any]:
    """``store`` as tau2's retail ``db.json`` holds one (products, users, orders, each keyed by id)."""
    by_user: dict[str, list[Order]] = {}
    for order in store.orders:
        by_user.setdefault(order.user_id, []).append(order)
    return {
        "products": {
            p.id: {
                "name": p.name,
                "product_id": p.id,
                "variants": {
                    v.id: {
                        "item_id": v.id,
                        "options": dict(v.options),
                        "available": v.available,
                        "price": _dollars(v.price),
                    }
                    for v in p.variants
                },
            }
            for p in store.products
        },
        "users": {
            c.user_id: _user(c, by_user.get(c.user_id, [])) for c in store.customers if _is_customer(c)
        },
        "orders": {o.id: _order(o) for o in store.orders},
    }


def _is_customer(c: Customer) -> bool:
    """A user tau2 would have: not forgotten, with a name, an email or an address (someone who only wrote
    to the store, a visitor or a support conversation's writer, is a user of Ponder's but no customer)."""
    return not c.forgotten and bool(c.name or c.email or c.addresses)


def _dollars(cents: int) -> float:
    return round(cents / 100, 2)


def _address(a: Address | None) -> dict[str, str]:
    if a is None:
        return {"address1": "", "address2": "", "city": "", "country": "", "state": "", "zip": ""}
    return {
        "address1": a.line1,
        "address2": a.line2,
        "city": a.city,
        "country": a.country,
        "state": a.state,
        "zip": a.zip,
    }


def _user(c: Customer, orders: list[Order]) -> dict[str, Any]:
    first, _, last = c.name.partition(" ")
    home = next((a for a in c.addresses if a.id == "default"), c.addresses[0] if c.addresses else None)
    listed = sorted(orders, key=lambda o: (o.created_at or 0.0, o.id))
    return {
        "user_id": c.user_id,
        "name": {"first_name": first, "last_name": last},
        "address": _address(home),
        "email": c.email,
        "payment_methods": {m.id: _method(m) for m in c.payment_methods},
        "orders": [o.id for o in listed],
    }


def _method(m: PaymentMethod) -> dict[str, Any]:
    if m.kind == "gift_card":
        return {"source": "gift_card", "id": m.id, "balance": _dollars(m.balance or 0)}
    if m.kind == "paypal":
        return {"source": "paypal", "id": m.id}
    return {"source": "credit_card", "id": m.id, "brand": m.brand, "last_four": m.last4}


def _order(o: Order) -> dict[str, Any]:
    notes = [e.note for e in o.history]
    items = [i for i in o.items if i.state != "exchanged"]
    fulfillments = [
        {
            "tracking_id": [e.tracking_number],
            "item_ids": e.note.removeprefix(SHIPPED_NOTE).split(", ")
            if e.note.startswith(SHIPPED_NOTE)
            else [i.variant_id for i in items],
        }
        for e in o.history
        if e.tracking_number
    ]
    written: dict[str, Any] = {
        "order_id": o.id,
        "user_id": o.user_id,
        "address": _address(o.address),
        "items": [
            {
                "name": i.name,
                "product_id": i.product_id,
                "item_id": i.variant_id,
                "price": _dollars(i.price),
                "options": dict(i.options),
            }
            for i in items
            for _ in range(i.quantity)
        ],
        "status": tau2_status(o.status, notes),
        "fulfillments": fulfillments,
        "payment_history": [
            {
                "transaction_type": "payment" if p.kind == "charge" else "refund",
                "amount": _dollars(p.amount),
                "payment_method_id": p.method_id,
            }
            for p in o.payments
        ],
    }
    reason = next(
        (n.removeprefix(CANCELLED_NOTE) for n in reversed(notes) if n.startswith(CANCELLED_NOTE)), None
    )
    if o.status == "cancelled" and reason:
        written["cancel_reason"] = reason
    waiting = o.waiting or {}
    by_seq = {n: i.variant_id for n, i in enumerate(o.items)}
    if waiting.get("kind") == "return":
        written["return_items"] = sorted(by_seq[seq] for seq in waiting["items"])
        written["return_payment_method_id"] = waiting["method_id"]
    elif waiting.get("kind") == "exchange":
        written["exchange_items"] = sorted(by_seq[seq] for seq, _ in waiting["swaps"])
        written["exchange_new_items"] = sorted(variant for _, variant in waiting["swaps"])
        written["exchange_payment_method_id"] = waiting["method_id"]
        written["exchange_price_difference"] = _dollars(int(waiting["difference"]))
    return written
