"""Orders: reading them, and what may change after checkout (cancel a pending order, return delivered items).

An order's status moves along::

    pending ──> processed ──> delivered ──> return requested
       │                           └──────> exchange requested
       └──> cancelled

and every change appends a row to ``order_events`` (the status history, with a note of why). Money goes
back through the payment provider with an idempotency key derived from the order and the change, so a
repeated cancel or return can never refund twice; the refund is recorded in ``payments``.

Every method takes the ``Owner``: an order id of another user is "no such order", never someone else's.

Not here: checkout (checkout.py), and the confirmation a person gives before any of this (actions.py).
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy.engine import Connection

from ponder.commerce.payments import PaymentProvider
from ponder.errors import ConflictError, NotFoundError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["OrderBook", "UnknownOrderError"]


class UnknownOrderError(NotFoundError):
    """No such order for this customer."""


class OrderBook:
    def __init__(self, db: Database, provider: PaymentProvider) -> None:
        self.db = db
        self.provider = provider

    # --- reading ----------------------------------------------------------------------------------------

    def get(self, owner: Owner, order_id: str) -> dict[str, Any]:
        with self.db.reading() as db:
            return self.view(db, owner, order_id)

    def list_orders(self, owner: Owner) -> list[dict[str, Any]]:
        with self.db.reading() as db:
            ids = db.execute(
                sql(
                    "SELECT id FROM orders WHERE account = :account AND user_id = :user "
                    "ORDER BY created_at DESC, id"
                ),
                owner.params(),
            ).scalars()
            return [self.view(db, owner, str(i)) for i in ids]

    def view(self, db: Connection, owner: Owner, order_id: str) -> dict[str, Any]:
        """The order as JSON: items, total, address, payments and status history."""
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
                "SELECT status, note, at FROM order_events "
                "WHERE account = :account AND order_id = :id ORDER BY seq"
            ),
            args,
        )
        payments = db.execute(
            sql(
                "SELECT kind, amount, method_id, provider_ref, at FROM payments "
                "WHERE account = :account AND order_id = :id ORDER BY seq"
            ),
            args,
        )
        return {
            "object": "order",
            "id": order_id,
            "status": row["status"],
            "currency": row["currency"],
            "total": int(row["total"]),
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
                    "state": i["state"],
                }
                for i in items
            ],
            "history": [{"status": e[0], "note": e[1], "at": e[2]} for e in events],
            "payments": [
                {"kind": p[0], "amount": int(p[1]), "method_id": p[2], "reference": p[3], "at": p[4]}
                for p in payments
            ],
            "created_at": row["created_at"],
        }

    # --- writing ----------------------------------------------------------------------------------------

    def insert(self, db: Connection, owner: Owner, plan: dict[str, Any], charge_id: str) -> None:
        """A new paid order from checkout's plan, in checkout's transaction."""
        now = time.time()
        args = {"account": owner.account, "order": plan["order_id"]}
        db.execute(
            sql(
                "INSERT INTO orders (account, id, user_id, status, address, currency, total, "
                "payment_method_id, created_at, updated_at) VALUES (:account, :order, :user, 'pending', "
                ":address, :currency, :total, :method, :now, :now)"
            ),
            args
            | {
                "user": owner.user,
                "address": json.dumps(plan["address"]),
                "currency": plan["currency"],
                "total": plan["total"],
                "method": plan["method"]["id"],
                "now": now,
            },
        )
        db.execute(
            sql(
                "INSERT INTO order_items (account, order_id, seq, variant_id, product_id, name, options, "
                "price, quantity) VALUES (:account, :order, :seq, :variant, :product, :name, :options, "
                ":price, :quantity)"
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
                }
                for i, item in enumerate(plan["items"])
            ],
        )
        _event(db, owner.account, plan["order_id"], "pending", "placed", now)
        _payment(
            db, owner.account, plan["order_id"], "charge", plan["total"], plan["method"]["id"], charge_id, now
        )

    def cancel(self, owner: Owner, order_id: str, reason: str) -> dict[str, Any]:
        """Cancel a pending order: the items go back to stock and the whole charge is refunded."""
        reason = " ".join(reason.split())[:200] or "no reason given"
        with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
            order = self.view(db, owner, order_id)
            if order["status"] != "pending":
                raise ConflictError(
                    f"Order {order_id} is {order['status']}: only a pending order can be cancelled."
                )
            for item in order["items"]:
                db.execute(
                    sql(
                        "UPDATE variants SET stock = stock + :q WHERE account = :account AND id = :id "
                        "AND stock IS NOT NULL"
                    ),
                    {"account": owner.account, "id": item["variant_id"], "q": item["quantity"]},
                )
            _set_status(db, owner.account, order_id, "cancelled", f"cancelled: {reason}")
        self._refund(owner, order, _paid(order), f"cancel:{order_id}")
        return self.get(owner, order_id)

    def return_items(self, owner: Owner, order_id: str, seqs: list[int], reason: str = "") -> dict[str, Any]:
        """Return delivered items (by their ``seq`` in the order): refunded to the method that paid."""
        if not seqs:
            raise UserError("Name at least one item of the order to return.")
        with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
            order = self.view(db, owner, order_id)
            if order["status"] != "delivered":
                raise ConflictError(
                    f"Order {order_id} is {order['status']}: only delivered items can be returned."
                )
            by_seq = {i["seq"]: i for i in order["items"]}
            unknown = [s for s in seqs if s not in by_seq or by_seq[s]["state"] != "ordered"]
            if unknown:
                raise UserError(f"Order {order_id} has no returnable item {unknown[0]}.")
            amount = sum(by_seq[s]["price"] * by_seq[s]["quantity"] for s in seqs)
            for s in seqs:
                db.execute(
                    sql(
                        "UPDATE order_items SET state = 'returned' "
                        "WHERE account = :account AND order_id = :order AND seq = :seq"
                    ),
                    {"account": owner.account, "order": order_id, "seq": s},
                )
            note = f"return of items {sorted(seqs)}" + (f": {reason}" if reason else "")
            _set_status(db, owner.account, order_id, "return requested", note)
        self._refund(owner, order, amount, f"return:{order_id}:{','.join(map(str, sorted(seqs)))}")
        return self.get(owner, order_id)

    def _refund(self, owner: Owner, order: dict[str, Any], amount: int, key: str) -> None:
        if amount <= 0:
            return
        charge = next((p for p in order["payments"] if p["kind"] == "charge"), None)
        method = order["payment_method_id"]
        reference = ""
        if charge is not None and charge["reference"]:  # paid through the provider
            reference = self.provider.refund(
                charge_id=charge["reference"], amount=amount, idempotency_key=f"{owner.account}:{key}"
            ).id
        with self.db.transaction(lock=f"order:{owner.account}:{order['id']}") as db:
            if reference:
                known = db.execute(
                    sql("SELECT 1 FROM payments WHERE account = :account AND provider_ref = :ref"),
                    {"account": owner.account, "ref": reference},
                ).first()
                if known:
                    return
            else:  # a gift card (or an imported order): the balance is given back by the store
                db.execute(
                    sql(
                        "UPDATE payment_methods SET balance = balance + :amount WHERE account = :account "
                        "AND user_id = :user AND id = :id AND kind = 'gift_card'"
                    ),
                    owner.params(id=method, amount=amount),
                )
            _payment(db, owner.account, order["id"], "refund", amount, method, reference, time.time())


def _paid(order: dict[str, Any]) -> int:
    return sum(p["amount"] if p["kind"] == "charge" else -p["amount"] for p in order["payments"])


def _set_status(db: Connection, account: str, order_id: str, status: str, note: str) -> None:
    now = time.time()
    db.execute(
        sql("UPDATE orders SET status = :status, updated_at = :now WHERE account = :account AND id = :id"),
        {"account": account, "id": order_id, "status": status, "now": now},
    )
    _event(db, account, order_id, status, note, now)


def _event(db: Connection, account: str, order_id: str, status: str, note: str, at: float) -> None:
    db.execute(
        sql(
            "INSERT INTO order_events (account, order_id, seq, status, note, at) VALUES (:account, :order, "
            "(SELECT COALESCE(MAX(seq), -1) + 1 FROM order_events "
            "WHERE account = :account AND order_id = :order), :status, :note, :at)"
        ),
        {"account": account, "order": order_id, "status": status, "note": note, "at": at},
    )


def _payment(
    db: Connection,
    account: str,
    order_id: str,
    kind: str,
    amount: int,
    method: str,
    reference: str,
    at: float,
) -> None:
    db.execute(
        sql(
            "INSERT INTO payments (account, order_id, seq, kind, amount, method_id, provider_ref, at) "
            "VALUES (:account, :order, (SELECT COALESCE(MAX(seq), -1) + 1 FROM payments "
            "WHERE account = :account AND order_id = :order), :kind, :amount, :method, :ref, :at)"
        ),
        {
            "account": account,
            "order": order_id,
            "kind": kind,
            "amount": amount,
            "method": method,
            "ref": reference,
            "at": at,
        },
    )
