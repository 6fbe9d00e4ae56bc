"""A pending order paid with another of the customer's payment methods (tau2's
``modify_pending_order_payment``).

What the order has been paid (charges minus refunds) is charged to the new method, and refunded to the
methods that paid it, as one change:

1. **Plan.** The order is pending; the new method is the customer's and holds none of the order's money yet;
   a gift card covers the amount. ``quote`` stops here, and a confirmation pins the plan's ``version``.
2. **Charge.** The new method is charged (a card or PayPal; a gift card pays in step 3) before anything is
   written, under a key made of the order's version and the request's own key (a confirmed action's id),
   so a retry after a crash finds the first charge instead of making a second.
3. **Write**, in one transaction under the order's lock: the order still at the plan's version, the new
   charge recorded (or the gift card debited), everything paid before booked as refunds to the methods that
   paid it (refunds.py: gift cards credited now, the provider's refunds sent after the commit), and the
   history noting the change with the request's key.

If step 3 cannot be made (the order changed, a gift card spent meanwhile), the charge of step 2 is refunded
and the history says so (the pair stays out of ``payments``, as swaps.py does it). A retry of a request
whose change was made only sends the refunds still unsent. Not here: the person's confirmation
(actions.py), which is what calls this.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.engine import Connection

from ponder.commerce.crashpoints import crash_point
from ponder.commerce.customers import CustomerStore
from ponder.commerce.inventory import debit_gift_card, money, require_gift_card_covers
from ponder.commerce.order_records import (
    OrderView,
    add_event,
    check_version,
    made_by,
    paid,
    read_order,
    version,
)
from ponder.commerce.payments import PaymentProvider
from ponder.commerce.refunds import (
    Refund,
    allocate,
    book_refund,
    payment_rows,
    record_payment,
    send_refunds,
    unsent_refunds,
)
from ponder.commerce.store_rules import read_rules
from ponder.commerce.swaps import refund_unwritten_charge, release_unanswered_charge
from ponder.errors import ConflictError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database

__all__ = ["PAYMENT_CHANGED_NOTE", "PaymentChanges"]

PAYMENT_CHANGED_NOTE = "payment changed"  # the history note of a change of payment method


class PaymentChanges:
    """Moves a pending order's payment to another method; ``OrderBook`` calls it."""

    def __init__(self, db: Database, provider: PaymentProvider, customers: CustomerStore) -> None:
        self.db = db
        self.provider = provider
        self.customers = customers

    def quote(self, owner: Owner, order_id: str, method_id: str) -> dict[str, Any]:
        """What the change would do now, checked as it would check it, without doing it: the ``amount``
        moved, the ``method`` it moves to, the methods it leaves (``from``), the order's ``version``, and the
        ``order`` as it is (read with the rest)."""
        with self.db.reading() as db:
            order = read_order(db, owner, order_id)
            return self._plan(db, owner, order, method_id) | {"order": order}

    def change(
        self,
        owner: Owner,
        order_id: str,
        method_id: str,
        *,
        if_version: str | None = None,
        request_key: str,
    ) -> OrderView:
        """Make the change (module docstring); the order afterwards. ``if_version``: refuse
        (``ConflictError``) unless the order is still at that version, as a confirmation pinned it."""
        with self.db.reading() as db:
            made = made_by(db, owner.account, order_id, request_key)
            order = read_order(db, owner, order_id)
            if made:
                unsent = unsent_refunds(db, owner.account, order_id)
            else:
                plan = self._plan(db, owner, order, method_id)
        if made:  # a retry of the request after its change was made: only its refunds still unsent
            send_refunds(self.db, self.provider, owner, order_id, unsent)
            return self._read(owner, order_id)
        check_version(order_id, plan["version"], if_version)
        key = f"{owner.account}:{payment_key(order_id, plan['version'], request_key)}"
        charge_id = ""
        crash_point("before_charge")
        if plan["method"]["kind"] != "gift_card":
            charge_id = self.provider.charge(
                amount=plan["amount"],
                currency=plan["currency"],
                token=plan["method"]["token"],
                idempotency_key=key,
                description=f"Order {order_id}: paid with another method",
            ).id
        crash_point("after_charge")
        try:
            with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
                if made_by(db, owner.account, order_id, request_key):  # the same request, at once
                    refunds = unsent_refunds(db, owner.account, order_id)
                else:
                    order = read_order(db, owner, order_id)
                    if self._plan(db, owner, order, method_id) != plan:
                        raise ConflictError(
                            f"Order {order_id} changed while its payment was being changed; nothing was "
                            "changed."
                        )
                    refunds = _write_change(db, owner, order, plan, charge_id, request_key)
        except UserError as failed:  # changed, or a gift card spent meanwhile: the charge goes back
            if charge_id:
                self._undo_charge(owner, plan, charge_id, key, str(failed))
            raise
        crash_point("after_write")
        send_refunds(self.db, self.provider, owner, order_id, refunds)
        return self._read(owner, order_id)

    def release_unanswered_charge(
        self,
        owner: Owner,
        order_id: str,
        version_: str,
        request_key: str,
        amount: int,
        method_id: str,
        why: str,
    ) -> None:
        """A change whose charge the provider did not answer, refused when retried because the order moved
        on: ask the provider again under the change's key (it answers with that first charge, or charges now
        if the first never reached it) and refund it, noting both. A gift card charged nothing; a decline
        means nothing was charged."""

        def note(currency: str, refund_id: str) -> str:
            what = f"{money(amount, currency)} charged and refunded ({refund_id})"
            return f"payment change not made ({why[:200]}); {what}"

        release_unanswered_charge(
            self.db,
            self.provider,
            self.customers,
            owner,
            order_id,
            method_id,
            amount,
            f"{owner.account}:{payment_key(order_id, version_, request_key)}",
            f"Order {order_id}: paid with another method",
            note,
        )

    def _read(self, owner: Owner, order_id: str) -> OrderView:
        with self.db.reading() as db:
            return read_order(db, owner, order_id)

    def _plan(self, db: Connection, owner: Owner, order: OrderView, method_id: str) -> dict[str, Any]:
        order_id, currency = order["id"], order["currency"]
        if order["status"] != "pending":
            raise ConflictError(
                f"Order {order_id} is {order['status']}: only a pending order's payment method can change."
            )
        if not read_rules(db, owner.account).payment_changes:
            raise UserError("This store does not change the payment method of an order once it is placed.")
        method = self.customers.payment_method(owner, method_id, db)
        amount = paid(order)
        if amount <= 0:
            raise UserError(f"Nothing is paid on order {order_id}: there is no payment to move.")
        charges, _ = allocate(payment_rows(db, owner.account, order_id))
        holding = [c.method for c in charges if c.left]
        if method.id in holding:
            raise UserError(
                f"Order {order_id} is already paid with {method.id}: name another payment method."
            )
        require_gift_card_covers(method, amount, currency, "the order's")
        return {
            "order_id": order_id,
            "currency": currency,
            "amount": amount,
            "method": {
                "id": method.id,
                "kind": method.kind,
                "token": method.token,
                "brand": method.brand,
                "last4": method.last4,
            },
            "from": sorted(set(holding)),
            "version": version(order),
        }

    def _undo_charge(self, owner: Owner, plan: dict[str, Any], charge_id: str, key: str, why: str) -> None:
        """The new method was charged but the change could not be written: refund it and say so."""
        amount = plan["amount"]

        def note(refund_id: str) -> str:
            return (
                f"payment change not made ({why[:200]}); the {money(amount, plan['currency'])} charged "
                f"({charge_id}) was refunded ({refund_id})"
            )

        refund_unwritten_charge(self.db, self.provider, owner, plan["order_id"], charge_id, amount, key, note)


def payment_key(order_id: str, version_: str, request_key: str) -> str:
    """The provider idempotency key (after the account) of a change of payment method's charge."""
    return f"payment:{order_id}:{version_}:{request_key}"


def _write_change(
    db: Connection, owner: Owner, order: OrderView, plan: dict[str, Any], charge_id: str, request_key: str
) -> list[Refund]:
    account, order_id, method = owner.account, order["id"], plan["method"]
    now = time.time()
    if method["kind"] == "gift_card":
        debit_gift_card(db, owner, method["id"], plan["amount"], plan["currency"])
    record_payment(db, account, order_id, "charge", plan["amount"], method["id"], charge_id, now)
    # What paid it before goes back: refunds take the earliest charges with money left, all before this one.
    refunds = book_refund(db, owner, order, plan["amount"])
    note = (
        f"{PAYMENT_CHANGED_NOTE}: {money(plan['amount'], plan['currency'])} now paid with {method['id']} "
        f"(was {', '.join(plan['from'])})"
    )
    add_event(db, account, order_id, order["status"], note, now, request_key)
    return refunds
