"""Orders: reading them, and what may change after checkout.

An order's status moves along::

    pending ──> processed ──> delivered ──> return requested
       │                           └──────> exchange requested
       └──> cancelled

and every change appends a row to ``order_events`` (the status history, with a note of why). What may change,
after tau2-bench's retail rules:

- a **pending** order: cancelled (items back to stock, everything paid refunded); its items swapped for
  other variants of the same product, **once** (``modify_items``: stock moves both ways, the price difference
  is charged or refunded); its shipping address changed (``change_address``, no money moves); paid with
  another of the customer's methods (``change_payment``, payment_changes.py: the new one charged, what paid
  it refunded);
- a **delivered** order, once: items returned (refunded) or exchanged for variants of the same product
  (``exchange_items``: the old items are marked ``exchanged``, the new ones added to the order for shipping,
  the price difference charged or refunded), which moves it to "return requested" or "exchange requested".

Money. The order's ``total`` is what it costs now: checkout's charge, plus or minus the differences of item
changes; ``payments`` holds every charge and refund, so until a cancel or a return charges minus refunds
equal the total. Item changes and their price differences are swaps.py's; refunds are booked in the
transaction that makes the change and sent to the provider afterwards by the ledger (refunds.py), and a
refund the provider did not answer is sent again by ``settle_refunds``, under the same key. Stock and gift
cards move through inventory.py; the order's rows and history are order_records.py's.

Requests. A change made for a request with a key (``request_key``: a confirmed action's id) records that key
on its history row, in the change's transaction. The same request again (a retry after a crash or a lost
answer) finds its change made and only sends the refunds still unsent, instead of refusing an order that
"moved on" because of itself.

Every customer's method takes the ``Owner``: an order id of another user is "no such order", never someone
else's. ``advance`` is the store's own: the operator (``ponder shop fulfil``, or the account's API key)
moves an order forward as it is packed and delivered.

Not here: checkout (checkout.py), and the confirmation a person gives before any of this (actions.py).
Results are ``OrderView``s and errors ``PonderError``s (``UnknownOrderError``, ``ConflictError``...): the
server layer makes the wire shape and the HTTP status.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from sqlalchemy.engine import Connection

from ponder.commerce.crashpoints import crash_point
from ponder.commerce.customers import CustomerStore
from ponder.commerce.inventory import give_back_stock, money
from ponder.commerce.model import (
    CANCELLED_NOTE,
    MODIFIED_NOTE,
    Address,
    OrderStatus,
    StoreRules,
    items_modified,
)
from ponder.commerce.order_records import (
    OrderView,
    UnknownOrderError,
    add_event,
    check_version,
    made_by,
    paid,
    paid_for,
    read_order,
    set_status,
    set_waiting,
    version,
)
from ponder.commerce.payment_changes import PaymentChanges
from ponder.commerce.payments import PaymentProvider
from ponder.commerce.refunds import Refund, book_refund, require_refund_to, send_refunds, unsent_refunds
from ponder.commerce.store_rules import read_rules
from ponder.commerce.swaps import ItemChanges, Swap
from ponder.errors import ConflictError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["FULFILMENT", "MODIFIED_NOTE", "OrderBook", "OrderView", "Swap", "UnknownOrderError", "money"]

RECEIVED = "received"  # the store's step for a waiting return or exchange: the items are back
FULFILMENT: tuple[OrderStatus, ...] = (
    "pending",
    "processed",
    "delivered",
)  # the store moves orders along these


class OrderBook:
    def __init__(self, db: Database, provider: PaymentProvider) -> None:
        self.db = db
        self.customers = CustomerStore(db)
        self.changes = ItemChanges(db, provider, self.customers)
        self.payments = PaymentChanges(db, provider, self.customers)

    @property
    def provider(self) -> PaymentProvider:
        """The payment provider refunds go to (item and payment changes charge and refund through it too)."""
        return self.changes.provider

    @provider.setter
    def provider(self, provider: PaymentProvider) -> None:
        self.changes.provider = provider
        self.payments.provider = provider

    # --- reading ----------------------------------------------------------------------------------------

    def get(self, owner: Owner, order_id: str) -> OrderView:
        with self.db.reading() as db:
            return read_order(db, owner, order_id)

    def list_orders(self, owner: Owner) -> list[OrderView]:
        with self.db.reading() as db:
            ids = db.execute(
                sql(
                    "SELECT id FROM orders WHERE account = :account AND user_id = :user "
                    "ORDER BY created_at DESC, id"
                ),
                owner.params(),
            ).scalars()
            return [read_order(db, owner, str(i)) for i in ids]

    def view(self, db: Connection, owner: Owner, order_id: str) -> OrderView:
        """The order, read in the caller's transaction: items, total, address, payments, history."""
        return read_order(db, owner, order_id)

    def quote_modify(
        self, owner: Owner, order_id: str, swaps: list[Swap], payment_method_id: str
    ) -> dict[str, Any]:
        """What ``modify_items`` would do now, checked as it would check it, without doing it: the lines
        (each item's old and new variant), the price ``difference`` (positive: charged to the payment
        method; negative: refunded to it), the new ``total``, the method, and the order's ``version``."""
        return self.changes.quote(owner, order_id, swaps, payment_method_id, "modify")

    def quote_exchange(
        self, owner: Owner, order_id: str, swaps: list[Swap], payment_method_id: str
    ) -> dict[str, Any]:
        """What ``exchange_items`` would do now, as ``quote_modify`` says it for a pending order's items."""
        return self.changes.quote(owner, order_id, swaps, payment_method_id, "exchange")

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
            "version": version(order),
        }

    def quote_change_payment(self, owner: Owner, order_id: str, payment_method_id: str) -> dict[str, Any]:
        """What ``change_payment`` would do now: the ``amount`` moved to the method, the methods it leaves
        (``from``), the order's ``version`` and the ``order`` (a ConflictError for an order that is not
        pending)."""
        return self.payments.quote(owner, order_id, payment_method_id)

    # --- writing ----------------------------------------------------------------------------------------

    def advance(
        self,
        account: str,
        order_id: str,
        status: str,
        note: str = "",
        *,
        carrier: str = "",
        tracking_number: str = "",
    ) -> OrderView:
        """The store moves an order forward: pending -> processed (shipped: with the ``carrier`` and
        ``tracking_number``, if given) -> delivered (a step may be skipped, never taken back). No money moves.
        Not a customer's action, so no ``Owner`` and no confirmation: the operator's. Under the order's
        lock, so a customer's cancel and this cannot both win."""
        if status == RECEIVED:
            return self._receive(account, order_id)
        if status not in FULFILMENT[1:]:
            steps = " or ".join((*FULFILMENT[1:], RECEIVED))
            raise UserError(f"An order can be moved to {steps}, not {status!r}.")
        note = " ".join(note.split())[:200]
        carrier, tracking_number = " ".join(carrier.split())[:100], "".join(tracking_number.split())[:100]
        with self.db.transaction(lock=f"order:{account}:{order_id}") as db:
            row = (
                db.execute(
                    sql("SELECT user_id, status FROM orders WHERE account = :account AND id = :id"),
                    {"account": account, "id": order_id},
                )
                .mappings()
                .first()
            )
            if row is None:
                raise UnknownOrderError(f"No order {order_id} in this store.")
            current = str(row["status"])
            if current not in FULFILMENT or FULFILMENT.index(current) >= FULFILMENT.index(status):
                raise ConflictError(
                    f"Order {order_id} is {current}: it cannot be moved to {status} "
                    f"(orders move {' -> '.join(FULFILMENT)}, forward only)."
                )
            set_status(
                db,
                account,
                order_id,
                status,
                note or f"{status} by the store",
                carrier=carrier,
                tracking_number=tracking_number,
            )
            return read_order(db, Owner(account, str(row["user_id"])), order_id)

    def cancel(
        self, owner: Owner, order_id: str, reason: str, *, request_key: str | None = None
    ) -> OrderView:
        """Cancel a pending order: the items go back to stock and everything paid is refunded.
        ``request_key``: the request's own key (a confirmed action's id); the same request again, after a
        crash, finds the cancellation made and only sends what refunds are still unsent."""
        reason = " ".join(reason.split())[:200] or "no reason given"
        with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
            order = read_order(db, owner, order_id)
            if made_by(db, owner.account, order_id, request_key):
                refunds = unsent_refunds(db, owner.account, order_id)
            else:
                reason = cancel_reason(order, reason, read_rules(db, owner.account))
                for item in order["items"]:
                    give_back_stock(db, owner.account, item["variant_id"], item["quantity"])
                note = f"{CANCELLED_NOTE}{reason}"
                set_status(db, owner.account, order_id, "cancelled", note, request_key or "")
                refunds = book_refund(db, owner, order, paid(order))
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
        method_id: str | None = None,
        request_key: str | None = None,
    ) -> OrderView:
        """Return delivered items (by their ``seq`` in the order): refunded to the methods that paid, or to
        ``method_id`` where the store's rules let the customer name one (``StoreRules.return_refunds_to``).
        ``request_key`` as for ``cancel``."""
        if not seqs:
            raise UserError("Name at least one item of the order to return.")
        twice = next((s for s in seqs if seqs.count(s) > 1), None)
        if twice is not None:  # it would be refunded twice
            raise UserError(f"Item {twice} of the order is named twice; name each item once.")
        with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
            order = read_order(db, owner, order_id)
            if made_by(db, owner.account, order_id, request_key):
                refunds = unsent_refunds(db, owner.account, order_id)
            else:
                to = self.refund_to(db, owner, order, seqs, method_id)
                waits = read_rules(db, owner.account).money_moves == "at_received"
                refunds = _write_return(db, owner, order, seqs, reason, request_key or "", to, waits=waits)
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
    ) -> OrderView:
        """Swap items of a pending order, each ``(seq, new_variant_id)``, for another variant of the same
        product; once per order (tau2's ``modify_pending_order_items``). The new variants' stock is taken
        and the old ones' given back; the price difference is charged to ``payment_method_id`` or refunded
        to it (a gift card, or a method that paid this order); total, items, history and payments change in
        one transaction. ``if_version`` / ``if_difference``: refuse (ConflictError) unless the order is
        still at that version (a quote's) and the difference is still that, as a confirmation pinned them.
        ``idempotency_key``: this request's, for the provider's charge (default: a new one per call).
        """
        return self.changes.change(
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
    ) -> OrderView:
        """Exchange delivered items, each ``(seq, new_variant_id)``, for a variant of the same product (the
        same one too: a replacement), as tau2's ``exchange_delivered_order_items``: the order becomes
        "exchange requested", the old items are marked ``exchanged`` (to be sent back; not restocked until
        they are) and the new ones are added to the order with their stock taken; the price difference is
        charged or refunded as in ``modify_items``, which also says what the keyword arguments do."""
        return self.changes.change(
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
    ) -> OrderView:
        """Ship a pending order to ``address`` instead (tau2's ``modify_pending_order_address``); the
        history notes the old and the new one. No money moves. ``request_key`` as for ``cancel``."""
        with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
            order = read_order(db, owner, order_id)
            if not made_by(db, owner.account, order_id, request_key):
                check_version(order_id, version(order), if_version)
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
                add_event(db, owner.account, order_id, order["status"], note, time.time(), request_key or "")
        crash_point("after_write")
        return self.get(owner, order_id)

    def change_payment(
        self,
        owner: Owner,
        order_id: str,
        payment_method_id: str,
        *,
        if_version: str | None = None,
        request_key: str,
    ) -> OrderView:
        """Pay a pending order with another of the customer's methods (tau2's
        ``modify_pending_order_payment``): what it was paid is charged to ``payment_method_id`` and refunded
        to what paid it. ``if_version`` and ``request_key`` as for ``change_address``."""
        return self.payments.change(
            owner, order_id, payment_method_id, if_version=if_version, request_key=request_key
        )

    def check_cancel(self, owner: Owner, order_id: str, reason: str) -> tuple[OrderView, str]:
        """The order, and the reason as the store spells it, if the store's rules let it be cancelled for
        ``reason`` now (what ``cancel`` checks again when it is made)."""
        with self.db.reading() as db:
            order = read_order(db, owner, order_id)
            return order, cancel_reason(order, reason, read_rules(db, owner.account))

    def _receive(self, account: str, order_id: str) -> OrderView:
        """The store has the items of a waiting return or exchange back: the return is refunded, or the
        exchange made (its difference charged or refunded), as they would have been when asked in a store
        whose money moves at the request. Under the key ``received:ORDER``, so a retry after a crash
        finishes the one settlement instead of making another."""
        with self.db.reading() as db:
            row = (
                db.execute(
                    sql("SELECT user_id, waiting FROM orders WHERE account = :account AND id = :id"),
                    {"account": account, "id": order_id},
                )
                .mappings()
                .first()
            )
        if row is None:
            raise UnknownOrderError(f"No order {order_id} in this store.")
        owner, key = Owner(account, str(row["user_id"])), f"{RECEIVED}:{order_id}"
        waiting = json.loads(row["waiting"]) if row["waiting"] else None
        if waiting is None and not self.made_by(owner, order_id, key):
            raise ConflictError(f"Nothing of order {order_id} waits to be received.")
        if waiting is None or waiting["kind"] == "return":
            with self.db.transaction(lock=f"order:{account}:{order_id}") as db:
                order = read_order(db, owner, order_id)
                if made_by(db, account, order_id, key) or waiting is None:
                    refunds = unsent_refunds(db, account, order_id)
                else:
                    items, to = list(waiting["items"]), waiting["method_id"] or None
                    refunds = _write_return(db, owner, order, items, "", key, to, received=True)
            crash_point("after_write")
            self._send(owner, order_id, refunds)
            return self.get(owner, order_id)
        swaps = [(int(seq), str(variant)) for seq, variant in waiting["swaps"]]
        return self.changes.change(
            owner,
            order_id,
            swaps,
            waiting["method_id"],
            "exchange",
            None,
            int(waiting["difference"]),
            key,
            received=True,
        )

    def refund_to(
        self,
        db: Connection,
        owner: Owner,
        order: OrderView,
        seqs: list[int],
        method_id: str | None,
    ) -> str | None:
        """Where a return of ``seqs`` is refunded: None for the methods that paid (nothing named, or the
        order's own method), else ``method_id``, once the store's rules allow it (``UserError``)."""
        if method_id is None or method_id == order["payment_method_id"]:
            return None
        method = self.customers.payment_method(owner, method_id, db)
        by_seq = {i["seq"]: i for i in order["items"]}
        amount = sum(paid_for(by_seq[s]) for s in seqs if s in by_seq)
        allowed = read_rules(db, owner.account).return_refunds_to
        require_refund_to(db, self.provider, owner.account, order, method, amount, allowed)
        return method_id

    def made_by(self, owner: Owner, order_id: str, request_key: str) -> bool:
        """Whether the request ``request_key`` (a confirmed action's id) already changed this order."""
        with self.db.reading() as db:
            return made_by(db, owner.account, order_id, request_key)

    def settle_refunds(self, owner: Owner, order_id: str) -> OrderView:
        """Send the provider the refunds booked for this order that it has not confirmed (it failed or did
        not answer when they were made), with the keys they were first sent with; the order afterwards."""
        with self.db.reading() as db:
            read_order(db, owner, order_id)  # this user's order, or UnknownOrderError
            unsent = unsent_refunds(db, owner.account, order_id)
        self._send(owner, order_id, unsent)
        return self.get(owner, order_id)

    def _send(self, owner: Owner, order_id: str, refunds: list[Refund]) -> None:
        send_refunds(self.db, self.provider, owner, order_id, refunds)


def cancel_reason(order: OrderView, reason: str, rules: StoreRules) -> str:
    """``reason`` as the store spells it, if its rules let ``order`` be cancelled for it: a pending order,
    whose items did not change if the store forbids cancelling after a change, for one of the store's
    reasons if it names any (matched ignoring case and spaces). ``ConflictError`` or ``UserError``."""
    order_id = order["id"]
    if order["status"] != "pending":
        raise ConflictError(f"Order {order_id} is {order['status']}: only a pending order can be cancelled.")
    if not rules.cancel_after_change and items_modified(h["note"] for h in order["history"]):
        raise ConflictError(
            f"The items of order {order_id} were changed: this store does not cancel an order after that."
        )
    if not rules.cancel_reasons:
        return reason
    said = " ".join(reason.split()).casefold()
    for allowed in rules.cancel_reasons:
        if " ".join(allowed.split()).casefold() == said:
            return allowed
    allowed_text = ", ".join(f"'{r}'" for r in rules.cancel_reasons)
    raise UserError(f"This store cancels an order for one of these reasons only: {allowed_text}.")


# --- writing, in the caller's transaction ---------------------------------------------------------------


def _write_return(
    db: Connection,
    owner: Owner,
    order: OrderView,
    seqs: list[int],
    reason: str,
    request_key: str,
    refund_to: str | None = None,
    *,
    waits: bool = False,
    received: bool = False,
) -> list[Refund]:
    """A return: the items marked returned and refunded, to the methods that paid or to ``refund_to``
    (checked against the store's rules by the caller); the refunds to send returned. ``waits``: only
    recorded, to be refunded when the store receives the items; ``received``: that step, for the order's
    waiting return."""
    order_id = order["id"]
    if order["status"] != ("return requested" if received else "delivered"):
        raise ConflictError(f"Order {order_id} is {order['status']}: only delivered items can be returned.")
    by_seq = {i["seq"]: i for i in order["items"]}
    unknown = [s for s in seqs if s not in by_seq or by_seq[s]["state"] != "ordered"]
    if unknown:
        raise UserError(f"Order {order_id} has no returnable item {unknown[0]}.")
    if waits:
        note = f"return of items {sorted(seqs)} requested" + (f": {reason}" if reason else "")
        set_status(
            db,
            owner.account,
            order_id,
            "return requested",
            f"{note}; refunded when the store receives them",
            request_key,
        )
        waiting = {
            "kind": "return",
            "items": sorted(seqs),
            "method_id": refund_to or order["payment_method_id"],
        }
        set_waiting(db, owner.account, order_id, waiting)
        return []
    amount = sum(paid_for(by_seq[s]) for s in seqs)
    for s in seqs:
        db.execute(
            sql(
                "UPDATE order_items SET state = 'returned' "
                "WHERE account = :account AND order_id = :order AND seq = :seq"
            ),
            {"account": owner.account, "order": order_id, "seq": s},
        )
    if received:
        note = f"items {sorted(seqs)} received: refunded"
        add_event(db, owner.account, order_id, "return requested", note, time.time(), request_key)
        set_waiting(db, owner.account, order_id, None)
    else:
        note = f"return of items {sorted(seqs)}" + (f": {reason}" if reason else "")
        set_status(db, owner.account, order_id, "return requested", note, request_key)
    return book_refund(db, owner, order, amount, refund_to)


def _new_address(order: OrderView, address: Address) -> dict[str, Any]:
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
