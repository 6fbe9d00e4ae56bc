"""The refunds ledger: an order's charges and refunds (``payments``), which charge a refund goes back to,
and sending booked refunds to the payment provider.

One rule everywhere: a refund goes back to the earliest charge (of the named payment method, when there is
one) with money left on it, split over several charges if it must, one ``payments`` row per charge. So these
books and the provider's agree charge by charge. ``allocate`` walks an order's payments by that rule.

A refund is **booked** in the transaction that makes the change that causes it (``book_refund``: a cancel,
a return, an item change that costs less): a gift card (or an imported order's method) is credited there
and then (inventory.py), while a refund of a provider's charge is returned to the caller, to be **sent** once
that transaction has committed (``send_refunds``). The provider's refund id then fills in the row's
reference; a refund whose provider did not answer keeps an empty reference, and ``unsent_refunds`` finds it
to send again under the same idempotency key (the provider answers a repeat with the first refund).

Not here: charging (checkout.py, swaps.py), the order's rows and history (order_records.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from ponder.commerce.inventory import credit_gift_card
from ponder.commerce.model import PaymentKind
from ponder.commerce.payments import PaymentProvider
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

if TYPE_CHECKING:  # order_records.py books its payments here
    from ponder.commerce.order_records import OrderView

__all__ = [
    "Charge",
    "PaymentRow",
    "Refund",
    "allocate",
    "book_refund",
    "known_charge",
    "payment_rows",
    "record_payment",
    "send_refunds",
    "unsent_refunds",
]


@dataclass(frozen=True)
class Refund:
    """A refund booked in ``payments`` that the provider has not confirmed yet."""

    seq: int  # its row in ``payments``
    charge_id: str  # the provider's charge it goes back to
    amount: int


@dataclass(frozen=True)
class PaymentRow:
    """A row of an order's ``payments``, as the ledger reads it."""

    seq: int
    kind: PaymentKind
    amount: int
    method_id: str
    reference: str  # the provider's charge or refund id ("" : a gift card, imported, or not sent yet)


@dataclass
class Charge:
    """A charge, and what of it is not refunded yet (``allocate``)."""

    reference: str  # the provider's charge id ("" : a gift card, or imported history)
    method: str
    left: int  # not refunded yet


def payment_rows(db: Connection, account: str, order_id: str) -> list[PaymentRow]:
    """The order's charges and refunds, in the order they were made."""
    rows = db.execute(
        sql(
            "SELECT seq, kind, amount, method_id, provider_ref FROM payments "
            "WHERE account = :account AND order_id = :order ORDER BY seq"
        ),
        {"account": account, "order": order_id},
    ).mappings()
    return [
        PaymentRow(int(r["seq"]), r["kind"], int(r["amount"]), str(r["method_id"]), str(r["provider_ref"]))
        for r in rows
    ]


def allocate(rows: list[PaymentRow]) -> tuple[list[Charge], list[Refund]]:
    """Walk an order's payments in order, each refund taken from the earliest earlier charge of its method
    with money left (the rule ``book_refund`` books by): the charges with what is left on them, and the
    refunds booked against a provider's charge that have no provider refund id yet."""
    charges: list[Charge] = []
    unsent: list[Refund] = []
    for row in rows:
        if row.kind == "charge":
            charges.append(Charge(row.reference, row.method_id, row.amount))
            continue
        left = row.amount
        for charge in charges:
            if left and charge.left and charge.method == row.method_id:
                take = min(left, charge.left)
                charge.left -= take
                left -= take
                if charge.reference and not row.reference:
                    unsent.append(Refund(row.seq, charge.reference, take))
    return charges, unsent


def unsent_refunds(db: Connection, account: str, order_id: str) -> list[Refund]:
    """The order's refunds booked against a provider's charge that the provider has not confirmed."""
    return allocate(payment_rows(db, account, order_id))[1]


def book_refund(
    db: Connection, owner: Owner, order: OrderView, amount: int, method_id: str | None = None
) -> list[Refund]:
    """Book a refund of ``amount`` in ``payments``: back to the earliest charges (of ``method_id``, when
    named) with money left on them, one row each; gift cards are credited now, and what must go through
    the provider is returned to be sent once the transaction commits. What no charge covers goes to the
    named method (a gift card: a store credit), or for an imported order to its own payment method."""
    if amount <= 0:
        return []
    account, order_id = owner.account, order["id"]
    charges, _ = allocate(payment_rows(db, account, order_id))
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
            credit_gift_card(db, owner, method, part)
        seq = record_payment(db, account, order_id, "refund", part, method, "", now)
        if reference:
            sends.append(Refund(seq, reference, part))
    return sends


def record_payment(
    db: Connection,
    account: str,
    order_id: str,
    kind: PaymentKind,
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


def known_charge(db: Connection, account: str, order_id: str, reference: str) -> bool:
    """Whether the provider's charge or refund ``reference`` is booked on the order."""
    found = db.execute(
        sql("SELECT 1 FROM payments WHERE account = :account AND order_id = :order AND provider_ref = :ref"),
        {"account": account, "order": order_id, "ref": reference},
    ).first()
    return found is not None


def send_refunds(
    db: Database, provider: PaymentProvider, owner: Owner, order_id: str, refunds: list[Refund]
) -> None:
    """Send booked refunds to the provider and record its refund ids (a repeat finds the first refund)."""
    for refund in refunds:
        done = provider.refund(
            charge_id=refund.charge_id,
            amount=refund.amount,
            idempotency_key=f"{owner.account}:refund:{order_id}:{refund.seq}:{refund.charge_id}",
        )
        with db.transaction(lock=f"order:{owner.account}:{order_id}") as conn:
            conn.execute(
                sql(
                    "UPDATE payments SET provider_ref = :ref WHERE account = :account "
                    "AND order_id = :order AND seq = :seq AND provider_ref = ''"
                ),
                {"account": owner.account, "order": order_id, "seq": refund.seq, "ref": done.id},
            )
