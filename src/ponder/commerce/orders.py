"""Orders: reading them, and what may change after checkout.

An order's status moves along::

    pending ──> processed ──> delivered ──> return requested
       │                           └──────> exchange requested
       └──> cancelled

and every change appends a row to ``order_events`` (the status history, with a note of why). What may change,
after tau2-bench's retail rules:

- a **pending** order: cancelled (items back to stock, everything paid refunded); its items swapped for
  other variants of the same product, **once** (``modify_items``: stock moves both ways, the price difference
  is charged or refunded); its shipping address changed (``change_address``, no money moves);
- a **delivered** order, once: items returned (refunded) or exchanged for variants of the same product
  (``exchange_items``: the old items are marked ``exchanged``, the new ones added to the order for shipping,
  the price difference charged or refunded), which moves it to "return requested" or "exchange requested".

Money. The order's ``total`` is what it costs now: checkout's charge, plus or minus the differences of item
changes; ``payments`` holds every charge and refund, so until a cancel or a return charges minus refunds
equal the total. A difference is charged before the change is written, under an idempotency key made of
the order's version and the request's own key (a confirmation's action id), so a retry of that request
after a crash finds the first charge; it is refunded if the change cannot be written after all (the
history says so). Refunds are booked in the
transaction that makes the change (one row per charge they go back to; gift cards are credited there and
then), then sent to the provider, whose refund id fills in the row; a refund the provider did not answer
keeps an empty reference until ``settle_refunds`` sends it again, under the same key. Which charge a refund
goes back to follows one rule everywhere: the earliest charge of that payment method (of any, for a cancel
or a return) with money left on it, so these books and the provider's agree charge by charge.

Requests. A change made for a request with a key (``request_key``: a confirmed action's id) records that key
on its history row, in the change's transaction. The same request again (a retry after a crash or a lost
answer) finds its change made and only sends the refunds still unsent, instead of refusing an order that
"moved on" because of itself.

Every customer's method takes the ``Owner``: an order id of another user is "no such order", never someone
else's. ``advance`` is the store's own: the operator (``ponder shop fulfil``, or the account's API key)
moves an order forward as it is packed and delivered.

Not here: checkout (checkout.py), and the confirmation a person gives before any of this (actions.py).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy.engine import Connection

from ponder.commerce.crashpoints import crash_point
from ponder.commerce.customers import CustomerStore
from ponder.commerce.model import Address
from ponder.commerce.payments import PaymentProvider
from ponder.errors import ConflictError, NotFoundError, PaymentDeclinedError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["FULFILMENT", "MODIFIED_NOTE", "OrderBook", "Swap", "UnknownOrderError", "money"]

Swap = tuple[int, str]  # (an item's ``seq`` in the order, the variant id it becomes)
SwapKind = Literal["modify", "exchange"]
MODIFIED_NOTE = "items modified"  # the history note that marks a pending order's one change of items
FULFILMENT = ("pending", "processed", "delivered")  # the store moves an order forward along these


class UnknownOrderError(NotFoundError):
    """No such order for this customer."""


def money(amount: int, currency: str) -> str:
    """Minor units as text for a person: ``money(4500, "EUR")`` is "45.00 EUR"."""
    return f"{amount / 100:,.2f} {currency}"


@dataclass(frozen=True)
class _Refund:
    """A refund booked in ``payments`` that the provider has not confirmed yet."""

    seq: int  # its row in ``payments``
    charge_id: str  # the provider's charge it goes back to
    amount: int


class OrderBook:
    def __init__(self, db: Database, provider: PaymentProvider) -> None:
        self.db = db
        self.provider = provider
        self.customers = CustomerStore(db)

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

    def quote_modify(
        self, owner: Owner, order_id: str, swaps: list[Swap], payment_method_id: str
    ) -> dict[str, Any]:
        """What ``modify_items`` would do now, checked as it would check it, without doing it: the lines
        (each item's old and new variant), the price ``difference`` (positive: charged to the payment
        method; negative: refunded to it), the new ``total``, the method, and the order's ``version``."""
        with self.db.reading() as db:
            return self._plan_swaps(
                db, owner, self.view(db, owner, order_id), swaps, payment_method_id, "modify"
            )

    def quote_exchange(
        self, owner: Owner, order_id: str, swaps: list[Swap], payment_method_id: str
    ) -> dict[str, Any]:
        """What ``exchange_items`` would do now, as ``quote_modify`` says it for a pending order's items."""
        with self.db.reading() as db:
            order = self.view(db, owner, order_id)
            return self._plan_swaps(db, owner, order, swaps, payment_method_id, "exchange")

    def quote_change_address(self, owner: Owner, order_id: str, address: Address) -> dict[str, Any]:
        """What ``change_address`` would do now: the ``old`` and ``new`` address, the ``order`` as it is
        and its ``version`` (a ConflictError for an order that is not pending, a UserError for an incomplete
        or unchanged address)."""
        order = self.get(owner, order_id)
        new = _new_address(order, address)
        return {
            "order_id": order_id,
            "old": order["address"],
            "new": new,
            "order": order,
            "version": _version(order),
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

    def advance(self, account: str, order_id: str, status: str, note: str = "") -> dict[str, Any]:
        """The store moves an order forward: pending -> processed -> delivered (a step may be skipped, never
        taken back). No money moves. Not a customer's action, so no ``Owner`` and no confirmation: the
        operator's. Under the order's lock, so a customer's cancel and this cannot both win."""
        if status not in FULFILMENT[1:]:
            raise UserError(f"An order can be moved to {' or '.join(FULFILMENT[1:])}, not {status!r}.")
        note = " ".join(note.split())[:200]
        with self.db.transaction(lock=f"order:{account}:{order_id}") as db:
            row = db.execute(
                sql("SELECT user_id, status FROM orders WHERE account = :account AND id = :id"),
                {"account": account, "id": order_id},
            ).first()
            if row is None:
                raise UnknownOrderError(f"No order {order_id} in this store.")
            current = str(row[1])
            if current not in FULFILMENT or FULFILMENT.index(current) >= FULFILMENT.index(status):
                raise ConflictError(
                    f"Order {order_id} is {current}: it cannot be moved to {status} "
                    f"(orders move {' -> '.join(FULFILMENT)}, forward only)."
                )
            _set_status(db, account, order_id, status, note or f"{status} by the store")
            return self.view(db, Owner(account, str(row[0])), order_id)

    def cancel(
        self, owner: Owner, order_id: str, reason: str, *, request_key: str | None = None
    ) -> dict[str, Any]:
        """Cancel a pending order: the items go back to stock and everything paid is refunded.
        ``request_key``: the request's own key (a confirmed action's id); the same request again, after a
        crash, finds the cancellation made and only sends what refunds are still unsent."""
        reason = " ".join(reason.split())[:200] or "no reason given"
        with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
            order = self.view(db, owner, order_id)
            if _made_by(db, owner.account, order_id, request_key):
                refunds = _allocate(_payment_rows(db, owner.account, order_id))[1]
            else:
                if order["status"] != "pending":
                    raise ConflictError(
                        f"Order {order_id} is {order['status']}: only a pending order can be cancelled."
                    )
                for item in order["items"]:
                    _give_back(db, owner.account, item["variant_id"], item["quantity"])
                note = f"cancelled: {reason}"
                _set_status(db, owner.account, order_id, "cancelled", note, request_key or "")
                refunds = _book_refund(db, owner, order, _paid(order))
        crash_point("after_write")
        self._send(owner, order_id, refunds)
        return self.get(owner, order_id)

    def return_items(
        self,
        owner: Owner,
        order_id: str,
        seqs: list[int],
        reason: str = "",
        *,
        request_key: str | None = None,
    ) -> dict[str, Any]:
        """Return delivered items (by their ``seq`` in the order): refunded to the method that paid.
        ``request_key`` as for ``cancel``."""
        if not seqs:
            raise UserError("Name at least one item of the order to return.")
        twice = next((s for s in seqs if seqs.count(s) > 1), None)
        if twice is not None:  # it would be refunded twice
            raise UserError(f"Item {twice} of the order is named twice; name each item once.")
        with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
            order = self.view(db, owner, order_id)
            if _made_by(db, owner.account, order_id, request_key):
                refunds = _allocate(_payment_rows(db, owner.account, order_id))[1]
            else:
                refunds = _write_return(db, owner, order, seqs, reason, request_key or "")
        crash_point("after_write")
        self._send(owner, order_id, refunds)
        return self.get(owner, order_id)

    def modify_items(
        self,
        owner: Owner,
        order_id: str,
        swaps: list[Swap],
        payment_method_id: str,
        *,
        if_version: str | None = None,
        if_difference: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Swap items of a pending order, each ``(seq, new_variant_id)``, for another variant of the same
        product; once per order (tau2's ``modify_pending_order_items``). The new variants' stock is taken
        and the old ones' given back; the price difference is charged to ``payment_method_id`` or refunded
        to it (a gift card, or a method that paid this order); total, items, history and payments change in
        one transaction. ``if_version`` / ``if_difference``: refuse (ConflictError) unless the order is
        still at that version (a quote's) and the difference is still that, as a confirmation pinned them.
        ``idempotency_key``: this request's, for the provider's charge (default: a new one per call).
        """
        return self._swap(
            owner, order_id, swaps, payment_method_id, "modify", if_version, if_difference, idempotency_key
        )

    def exchange_items(
        self,
        owner: Owner,
        order_id: str,
        swaps: list[Swap],
        payment_method_id: str,
        *,
        if_version: str | None = None,
        if_difference: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Exchange delivered items, each ``(seq, new_variant_id)``, for a variant of the same product (the
        same one too: a replacement), as tau2's ``exchange_delivered_order_items``: the order becomes
        "exchange requested", the old items are marked ``exchanged`` (to be sent back; not restocked until
        they are) and the new ones are added to the order with their stock taken; the price difference is
        charged or refunded as in ``modify_items``, which also says what the keyword arguments do."""
        return self._swap(
            owner, order_id, swaps, payment_method_id, "exchange", if_version, if_difference, idempotency_key
        )

    def change_address(
        self,
        owner: Owner,
        order_id: str,
        address: Address,
        *,
        if_version: str | None = None,
        request_key: str | None = None,
    ) -> dict[str, Any]:
        """Ship a pending order to ``address`` instead (tau2's ``modify_pending_order_address``); the
        history notes the old and the new one. No money moves. ``request_key`` as for ``cancel``."""
        with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
            order = self.view(db, owner, order_id)
            if not _made_by(db, owner.account, order_id, request_key):
                _check_version(order_id, _version(order), if_version)
                new = _new_address(order, address)
                db.execute(
                    sql(
                        "UPDATE orders SET address = :address, updated_at = :now "
                        "WHERE account = :account AND id = :id"
                    ),
                    {
                        "account": owner.account,
                        "id": order_id,
                        "address": json.dumps(new),
                        "now": time.time(),
                    },
                )
                note = f"address changed to {_place(new)} (was {_place(order['address'])})"
                _event(db, owner.account, order_id, order["status"], note, time.time(), request_key or "")
        crash_point("after_write")
        return self.get(owner, order_id)

    def made_by(self, owner: Owner, order_id: str, request_key: str) -> bool:
        """Whether the request ``request_key`` (a confirmed action's id) already changed this order."""
        with self.db.reading() as db:
            return _made_by(db, owner.account, order_id, request_key)

    def settle_refunds(self, owner: Owner, order_id: str) -> dict[str, Any]:
        """Send the provider the refunds booked for this order that it has not confirmed (it failed or did
        not answer when they were made), with the keys they were first sent with; the order afterwards."""
        with self.db.reading() as db:
            self.view(db, owner, order_id)  # this user's order, or UnknownOrderError
            _, unsent = _allocate(_payment_rows(db, owner.account, order_id))
        self._send(owner, order_id, unsent)
        return self.get(owner, order_id)

    # --- the steps ----------------------------------------------------------------------------------------

    def _swap(
        self,
        owner: Owner,
        order_id: str,
        swaps: list[Swap],
        method_id: str,
        kind: SwapKind,
        if_version: str | None,
        if_difference: int | None,
        request_key: str | None,
    ) -> dict[str, Any]:
        with self.db.reading() as db:
            made = _made_by(db, owner.account, order_id, request_key)
            if not made:
                plan = self._plan_swaps(db, owner, self.view(db, owner, order_id), swaps, method_id, kind)
        if made:  # a retry of the request after its change was made
            return self.settle_refunds(owner, order_id)
        _check_version(order_id, plan["version"], if_version)
        difference, currency = plan["difference"], plan["currency"]
        if if_difference is not None and difference != if_difference:
            raise ConflictError(
                f"The price difference is now {money(difference, currency)}, not the "
                f"{money(if_difference, currency)} confirmed; nothing was changed."
            )
        key = _swap_key(kind, order_id, plan["version"], request_key or secrets.token_hex(8))
        charge_id = ""
        crash_point("before_charge")
        if difference > 0 and plan["method"]["kind"] != "gift_card":  # a gift card pays in the transaction
            charge_id = self.provider.charge(
                amount=difference,
                currency=currency,
                token=plan["method"]["token"],
                idempotency_key=f"{owner.account}:{key}",
                description=f"Order {order_id}: price difference of an item {kind}",
            ).id
        crash_point("after_charge")
        try:
            with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
                if _made_by(db, owner.account, order_id, request_key):  # the same request, at once
                    refunds = _allocate(_payment_rows(db, owner.account, order_id))[1]
                else:
                    order = self.view(db, owner, order_id)
                    again = self._plan_swaps(db, owner, order, swaps, method_id, kind)
                    if again != plan:
                        raise ConflictError(
                            f"Order {order_id} changed while its items were being changed; nothing was "
                            "changed."
                        )
                    refunds = _write_swap(db, owner, order, plan, charge_id, request_key or "")
        except UserError as failed:  # sold out, changed, a gift card spent meanwhile: the charge goes back
            if charge_id:
                self._undo_charge(owner, plan, charge_id, key, str(failed))
            raise
        crash_point("after_write")
        self._send(owner, order_id, refunds)
        return self.get(owner, order_id)

    def release_unanswered_charge(
        self,
        owner: Owner,
        order_id: str,
        kind: SwapKind,
        version: str,
        request_key: str,
        amount: int,
        method_id: str,
        why: str,
    ) -> None:
        """A change whose price difference the provider did not answer (``PaymentProviderError``) is refused
        when retried, because the order moved on: the charge it may have made would stay on the card, booked
        nowhere. Ask the provider again under the change's key (it answers with that first charge, or
        charges now if the first never reached it) and refund it, noting both in the history. A gift card or
        a difference of nothing charged nothing; a decline means nothing was charged."""
        if amount <= 0:
            return
        with self.db.reading() as db:
            method = self.customers.payment_method(owner, method_id, db)
            currency = db.execute(
                sql("SELECT currency FROM orders WHERE account = :account AND id = :id"),
                {"account": owner.account, "id": order_id},
            ).scalar()
        if method.kind == "gift_card" or currency is None:
            return
        key = _swap_key(kind, order_id, version, request_key)
        try:
            charge = self.provider.charge(
                amount=amount,
                currency=str(currency),
                token=method.token,
                idempotency_key=f"{owner.account}:{key}",
                description=f"Order {order_id}: price difference of an item {kind}",
            )
        except PaymentDeclinedError:
            return
        plan = {"order_id": order_id, "difference": amount, "kind": kind, "currency": str(currency)}
        self._undo_charge(owner, plan, charge.id, key, why)

    def _plan_swaps(
        self,
        db: Connection,
        owner: Owner,
        order: dict[str, Any],
        swaps: list[Swap],
        method_id: str,
        kind: SwapKind,
    ) -> dict[str, Any]:
        order_id, currency = order["id"], order["currency"]
        if kind == "modify" and order["status"] != "pending":
            raise ConflictError(
                f"Order {order_id} is {order['status']}: only a pending order's items can be changed."
            )
        if kind == "exchange" and order["status"] != "delivered":
            raise ConflictError(
                f"Order {order_id} is {order['status']}: only delivered items can be exchanged."
            )
        if kind == "modify" and any(h["note"].startswith(MODIFIED_NOTE) for h in order["history"]):
            raise ConflictError(
                f"The items of order {order_id} were already changed once; a pending order's items change "
                "only once (it can still be cancelled)."
            )
        swaps = _normalized(swaps)
        by_seq = {i["seq"]: i for i in order["items"] if i["state"] == "ordered"}
        lines: list[dict[str, Any]] = []
        stocks: list[tuple[bool, int | None]] = []  # each new variant's (available, stock)
        need: dict[str, int] = {}  # variant -> how many the swaps take
        back: dict[str, int] = {}  # variant -> how many they give back (a pending order's old items)
        for seq, variant_id in swaps:
            item = by_seq.get(seq)
            if item is None:
                verb = "change" if kind == "modify" else "exchange"
                raise UserError(f"Order {order_id} has no item {seq} to {verb}.")
            row = db.execute(
                sql(
                    "SELECT v.product_id, v.options, v.price, v.stock, v.available, p.name "
                    "FROM variants v JOIN products p ON p.account = v.account AND p.id = v.product_id "
                    "WHERE v.account = :account AND v.id = :id"
                ),
                {"account": owner.account, "id": variant_id},
            ).first()
            if row is None:
                raise NotFoundError(f"No item '{variant_id}' in this store.")
            if row[0] != item["product_id"]:
                raise UserError(
                    f"'{variant_id}' is not a variant of {item['name']} (product {item['product_id']}): an "
                    "item can only be swapped for another variant of the same product."
                )
            if kind == "modify" and variant_id == item["variant_id"]:
                raise UserError(
                    f"Item {seq} of order {order_id} already is '{variant_id}': name another one."
                )
            need[variant_id] = need.get(variant_id, 0) + item["quantity"]
            if kind == "modify":  # a pending order's old items never left: they go back to stock
                back[item["variant_id"]] = back.get(item["variant_id"], 0) + item["quantity"]
            lines.append(
                {
                    "seq": seq,
                    "quantity": item["quantity"],
                    "old": {k: item[k] for k in ("variant_id", "name", "options", "price")},
                    "new": {
                        "variant_id": variant_id,
                        "product_id": row[0],
                        "name": row[5],
                        "options": json.loads(row[1]),
                        "price": int(row[2]),
                    },
                }
            )
            stocks.append((bool(row[4]), None if row[3] is None else int(row[3])))
        for line, (available, stock) in zip(lines, stocks, strict=True):
            variant_id = line["new"]["variant_id"]
            left = 0 if not available else None if stock is None else stock + back.get(variant_id, 0)
            if left is not None and left < need[variant_id]:
                raise ConflictError(f"'{line['new']['name']}' ({variant_id}) has only {left} in stock.")
        difference = sum((line["new"]["price"] - line["old"]["price"]) * line["quantity"] for line in lines)
        method = self.customers.payment_method(owner, method_id, db)
        if difference > 0 and method.kind == "gift_card" and (method.balance or 0) < difference:
            raise PaymentDeclinedError(
                f"The gift card {method.id} has {money(method.balance or 0, currency)} left, less than the "
                f"difference {money(difference, currency)}.",
                code="insufficient_funds",
            )
        if difference < 0 and method.kind != "gift_card":
            charges, _ = _allocate(_payment_rows(db, owner.account, order_id))
            paid = sum(c.left for c in charges if c.method == method.id)
            if paid < -difference:
                raise UserError(
                    f"{money(-difference, currency)} can go back to a gift card, or to a payment method that "
                    f"paid order {order_id} (up to what it paid); {method.id} has "
                    f"{money(paid, currency)} of it to take back."
                )
        return {
            "order_id": order_id,
            "kind": kind,
            "currency": currency,
            "lines": lines,
            "difference": difference,
            "total": order["total"] + difference,
            "method": {"id": method.id, "kind": method.kind, "token": method.token},
            "version": _version(order),
        }

    def _undo_charge(self, owner: Owner, plan: dict[str, Any], charge_id: str, key: str, why: str) -> None:
        """A difference was charged but the change could not be written: refund it, and say so in the
        history. The pair stays out of ``payments`` (they cancel out, and the provider holds the refund
        against that very charge), so the rule refunds are booked by still matches the provider's books."""
        order_id, amount = plan["order_id"], plan["difference"]
        with self.db.reading() as db:
            if _known(db, owner.account, order_id, charge_id):
                return  # the same request, made twice at once, and that charge paid for the other's change
        refund = self.provider.refund(
            charge_id=charge_id, amount=amount, idempotency_key=f"{owner.account}:{key}:undo"
        )
        with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
            status = db.execute(
                sql("SELECT status FROM orders WHERE account = :account AND id = :id"),
                {"account": owner.account, "id": order_id},
            ).scalar()
            if status is not None:
                note = (
                    f"item {plan['kind']} not made ({why[:200]}); its price difference of "
                    f"{money(amount, plan['currency'])} was charged ({charge_id}) and refunded ({refund.id})"
                )
                _event(db, owner.account, order_id, str(status), note, time.time())

    def _send(self, owner: Owner, order_id: str, refunds: list[_Refund]) -> None:
        """Send booked refunds to the provider and record its refund ids (a repeat finds the first refund)."""
        for refund in refunds:
            done = self.provider.refund(
                charge_id=refund.charge_id,
                amount=refund.amount,
                idempotency_key=f"{owner.account}:refund:{order_id}:{refund.seq}:{refund.charge_id}",
            )
            with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
                db.execute(
                    sql(
                        "UPDATE payments SET provider_ref = :ref WHERE account = :account "
                        "AND order_id = :order AND seq = :seq AND provider_ref = ''"
                    ),
                    {"account": owner.account, "order": order_id, "seq": refund.seq, "ref": done.id},
                )


# --- writing, in the caller's transaction ---------------------------------------------------------------


def _write_return(
    db: Connection, owner: Owner, order: dict[str, Any], seqs: list[int], reason: str, request_key: str
) -> list[_Refund]:
    order_id = order["id"]
    if order["status"] != "delivered":
        raise ConflictError(f"Order {order_id} is {order['status']}: only delivered items can be returned.")
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
    _set_status(db, owner.account, order_id, "return requested", note, request_key)
    return _book_refund(db, owner, order, amount)


def _write_swap(
    db: Connection,
    owner: Owner,
    order: dict[str, Any],
    plan: dict[str, Any],
    charge_id: str,
    request_key: str,
) -> list[_Refund]:
    account, order_id, kind = owner.account, order["id"], plan["kind"]
    lines, difference, method = plan["lines"], plan["difference"], plan["method"]
    now = time.time()
    if kind == "modify":
        for line in lines:  # first everything back, so swapping two items' variants needs no spare stock
            _give_back(db, account, line["old"]["variant_id"], line["quantity"])
    for line in lines:
        _take(db, account, line["new"]["variant_id"], line["new"]["name"], line["quantity"])
    where = {"account": account, "order": order_id}
    first = 1 + max((i["seq"] for i in order["items"]), default=-1)  # an exchange's new items' numbers
    if kind == "modify":
        for line in lines:
            new = line["new"]
            db.execute(
                sql(
                    "UPDATE order_items SET variant_id = :variant, name = :name, options = :options, "
                    "price = :price WHERE account = :account AND order_id = :order AND seq = :seq"
                ),
                where
                | {
                    "seq": line["seq"],
                    "variant": new["variant_id"],
                    "name": new["name"],
                    "options": json.dumps(new["options"]),
                    "price": new["price"],
                },
            )
    else:
        for n, line in enumerate(lines):
            new = line["new"]
            db.execute(
                sql(
                    "UPDATE order_items SET state = 'exchanged' "
                    "WHERE account = :account AND order_id = :order AND seq = :seq"
                ),
                where | {"seq": line["seq"]},
            )
            db.execute(
                sql(
                    "INSERT INTO order_items (account, order_id, seq, variant_id, product_id, name, options, "
                    "price, quantity) VALUES (:account, :order, :seq, :variant, :product, :name, :options, "
                    ":price, :quantity)"
                ),
                where
                | {
                    "seq": first + n,
                    "variant": new["variant_id"],
                    "product": new["product_id"],
                    "name": new["name"],
                    "options": json.dumps(new["options"]),
                    "price": new["price"],
                    "quantity": line["quantity"],
                },
            )
    db.execute(
        sql("UPDATE orders SET total = :total, updated_at = :now WHERE account = :account AND id = :order"),
        where | {"total": plan["total"], "now": now},
    )
    currency = plan["currency"]
    if difference > 0:
        if method["kind"] == "gift_card":
            _take_from_gift_card(db, owner, method["id"], difference, currency)
        _payment(db, account, order_id, "charge", difference, method["id"], charge_id, now)
        money_note = f"{money(difference, currency)} charged to {method['id']}"
    elif difference < 0:
        money_note = f"{money(-difference, currency)} refunded to {method['id']}"
    else:
        money_note = "no price difference"
    changes = "; ".join(
        f"item {line['seq']} {line['old']['variant_id']} -> {line['new']['variant_id']}"
        + (f" (now item {first + n})" if kind == "exchange" else "")
        for n, line in enumerate(lines)
    )
    if kind == "modify":
        _event(
            db, account, order_id, "pending", f"{MODIFIED_NOTE}: {changes}; {money_note}", now, request_key
        )
    else:
        note = f"exchange of {changes}; {money_note}"
        _set_status(db, account, order_id, "exchange requested", note, request_key)
    return _book_refund(db, owner, order, -difference, method["id"]) if difference < 0 else []


def _book_refund(
    db: Connection, owner: Owner, order: dict[str, Any], amount: int, method_id: str | None = None
) -> list[_Refund]:
    """Book a refund of ``amount`` in ``payments``: back to the earliest charges (of ``method_id``, when
    named) with money left on them, one row each; gift cards are credited now, and what must go through
    the provider is returned to be sent once the transaction commits. What no charge covers goes to the
    named method (a gift card: a store credit), or for an imported order to its own payment method."""
    if amount <= 0:
        return []
    account, order_id = owner.account, order["id"]
    charges, _ = _allocate(_payment_rows(db, account, order_id))
    parts: list[tuple[str, str, int]] = []  # (the provider's charge id, or "", method, amount)
    left = amount
    for charge in charges:
        if left and charge.left and method_id in (None, charge.method):
            take = min(left, charge.left)
            parts.append((charge.reference, charge.method, take))
            left -= take
    if left:
        parts.append(("", method_id or order["payment_method_id"], left))
    now = time.time()
    sends = []
    for reference, method, part in parts:
        if not reference:  # a gift card (or an imported order): the store gives the balance back itself
            db.execute(
                sql(
                    "UPDATE payment_methods SET balance = balance + :amount WHERE account = :account "
                    "AND user_id = :user AND id = :id AND kind = 'gift_card'"
                ),
                owner.params(id=method, amount=part),
            )
        seq = _payment(db, account, order_id, "refund", part, method, "", now)
        if reference:
            sends.append(_Refund(seq, reference, part))
    return sends


@dataclass
class _Charge:
    reference: str  # the provider's charge id ("" : a gift card, or imported history)
    method: str
    left: int  # not refunded yet


def _allocate(rows: list[dict[str, Any]]) -> tuple[list[_Charge], list[_Refund]]:
    """Walk an order's payments in order, each refund taken from the earliest earlier charge of its method
    with money left (the rule ``_book_refund`` books by): the charges with what is left on them, and the
    refunds booked against a provider's charge that have no provider refund id yet."""
    charges: list[_Charge] = []
    unsent: list[_Refund] = []
    for row in rows:
        if row["kind"] == "charge":
            charges.append(_Charge(row["reference"], row["method_id"], row["amount"]))
            continue
        left = row["amount"]
        for charge in charges:
            if left and charge.left and charge.method == row["method_id"]:
                take = min(left, charge.left)
                charge.left -= take
                left -= take
                if charge.reference and not row["reference"]:
                    unsent.append(_Refund(row["seq"], charge.reference, take))
    return charges, unsent


def _payment_rows(db: Connection, account: str, order_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        sql(
            "SELECT seq, kind, amount, method_id, provider_ref FROM payments "
            "WHERE account = :account AND order_id = :order ORDER BY seq"
        ),
        {"account": account, "order": order_id},
    )
    return [
        {"seq": int(r[0]), "kind": r[1], "amount": int(r[2]), "method_id": r[3], "reference": r[4]}
        for r in rows
    ]


def _known(db: Connection, account: str, order_id: str, reference: str) -> bool:
    found = db.execute(
        sql("SELECT 1 FROM payments WHERE account = :account AND order_id = :order AND provider_ref = :ref"),
        {"account": account, "order": order_id, "ref": reference},
    ).first()
    return found is not None


def _give_back(db: Connection, account: str, variant_id: str, quantity: int) -> None:
    db.execute(
        sql(
            "UPDATE variants SET stock = stock + :q WHERE account = :account AND id = :id "
            "AND stock IS NOT NULL"
        ),
        {"account": account, "id": variant_id, "q": quantity},
    )


def _take(db: Connection, account: str, variant_id: str, name: str, quantity: int) -> None:
    taken = db.execute(
        sql(
            "UPDATE variants SET stock = stock - :q WHERE account = :account AND id = :id AND available "
            "AND (stock IS NULL OR stock >= :q)"
        ),
        {"account": account, "id": variant_id, "q": quantity},
    ).rowcount
    if not taken:
        raise ConflictError(f"'{name}' ({variant_id}) sold out meanwhile; nothing was changed.")


def _take_from_gift_card(db: Connection, owner: Owner, method_id: str, amount: int, currency: str) -> None:
    taken = db.execute(
        sql(
            "UPDATE payment_methods SET balance = balance - :amount WHERE account = :account "
            "AND user_id = :user AND id = :id AND kind = 'gift_card' AND balance >= :amount"
        ),
        owner.params(id=method_id, amount=amount),
    ).rowcount
    if not taken:
        raise PaymentDeclinedError(
            f"The gift card {method_id} no longer covers {money(amount, currency)}.",
            code="insufficient_funds",
        )


def _paid(order: dict[str, Any]) -> int:
    return sum(p["amount"] if p["kind"] == "charge" else -p["amount"] for p in order["payments"])


def _normalized(swaps: list[Swap]) -> list[Swap]:
    if not swaps:
        raise UserError("Name at least one item of the order and the item it should become.")
    normal: list[Swap] = []
    for swap in swaps:
        if len(swap) != 2 or not isinstance(swap[0], int) or not isinstance(swap[1], str) or not swap[1]:
            raise UserError(f"A swap is an item's number in the order and a new item id (got {swap!r}).")
        normal.append((swap[0], swap[1]))
    seqs = [seq for seq, _ in normal]
    twice = next((seq for seq in seqs if seqs.count(seq) > 1), None)
    if twice is not None:
        raise UserError(f"Item {twice} of the order is named twice; name each item once.")
    return sorted(normal)


def _new_address(order: dict[str, Any], address: Address) -> dict[str, Any]:
    if order["status"] != "pending":
        raise ConflictError(
            f"Order {order['id']} is {order['status']}: only a pending order's address can be changed."
        )
    if not (address.line1.strip() and address.city.strip() and address.country.strip()):
        raise UserError("An address needs at least a street line, a city and a country.")
    new = asdict(address)
    old = order["address"] or {}
    if {k: v for k, v in new.items() if k != "id"} == {k: v for k, v in old.items() if k != "id"}:
        raise UserError(f"Order {order['id']} already ships to {_place(new)}.")
    return new


def _place(address: dict[str, Any] | None) -> str:
    if not address:
        return "no address"
    return ", ".join(
        x for x in (address.get(k, "") for k in ("line1", "line2", "city", "zip", "country")) if x
    )


def _version(order: dict[str, Any]) -> str:
    """A digest of everything a change to the order was decided on: status, items, address, total, and
    how many changes it has had (each adds to the history and may add payments)."""
    return _digest(
        order["status"],
        order["total"],
        order["address"],
        [[i["seq"], i["variant_id"], i["price"], i["quantity"], i["state"]] for i in order["items"]],
        len(order["history"]),
        len(order["payments"]),
    )


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _swap_key(kind: str, order_id: str, version: str, request_key: str) -> str:
    """The provider idempotency key (after the account) of an item change's price difference."""
    return f"{kind}:{order_id}:{version}:{request_key}"


def _check_version(order_id: str, version: str, expected: str | None) -> None:
    if expected is not None and version != expected:
        raise ConflictError(f"Order {order_id} changed after this change was proposed; nothing was changed.")


def _set_status(
    db: Connection, account: str, order_id: str, status: str, note: str, request_key: str = ""
) -> None:
    now = time.time()
    db.execute(
        sql("UPDATE orders SET status = :status, updated_at = :now WHERE account = :account AND id = :id"),
        {"account": account, "id": order_id, "status": status, "now": now},
    )
    _event(db, account, order_id, status, note, now, request_key)


def _event(
    db: Connection, account: str, order_id: str, status: str, note: str, at: float, request_key: str = ""
) -> None:
    """Append to the order's history; ``request_key``: the request (a confirmed action) that made it."""
    db.execute(
        sql(
            "INSERT INTO order_events (account, order_id, seq, status, note, at, request_key) VALUES "
            "(:account, :order, (SELECT COALESCE(MAX(seq), -1) + 1 FROM order_events "
            "WHERE account = :account AND order_id = :order), :status, :note, :at, :key)"
        ),
        {"account": account, "order": order_id, "status": status, "note": note, "at": at, "key": request_key},
    )


def _made_by(db: Connection, account: str, order_id: str, request_key: str | None) -> bool:
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


def _payment(
    db: Connection,
    account: str,
    order_id: str,
    kind: str,
    amount: int,
    method: str,
    reference: str,
    at: float,
) -> int:
    """Record a charge or refund; its ``seq`` in the order's payments."""
    where = {"account": account, "order": order_id}
    db.execute(
        sql(
            "INSERT INTO payments (account, order_id, seq, kind, amount, method_id, provider_ref, at) "
            "VALUES (:account, :order, (SELECT COALESCE(MAX(seq), -1) + 1 FROM payments "
            "WHERE account = :account AND order_id = :order), :kind, :amount, :method, :ref, :at)"
        ),
        where | {"kind": kind, "amount": amount, "method": method, "ref": reference, "at": at},
    )
    seq = db.execute(
        sql("SELECT MAX(seq) FROM payments WHERE account = :account AND order_id = :order"), where
    ).scalar_one()
    return int(seq)
