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

from ponder.commerce.inventory import credit_gift_card, money
from ponder.commerce.model import PaymentKind, PaymentMethod, RefundTo
from ponder.commerce.payments import PaymentProvider, crediting
from ponder.errors import PaymentProviderError, UserError
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
    "require_refund_to",
    "send_refunds",
    "unsent_refunds",
]


@dataclass(frozen=True)
class Refund:
    """A refund (or a credit) booked in ``payments`` that the provider has not confirmed yet."""

    seq: int  # its row in ``payments``
    charge_id: str  # the provider's charge it goes back to ("" : a credit)
    amount: int
    method_id: str = ""  # a credit's saved payment method, which the provider pays


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
        if row.kind == "credit":  # paid to a method that did not pay the order: no charge to take it from
            if not row.reference:
                unsent.append(Refund(row.seq, "", row.amount, row.method_id))
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


def require_refund_to(
    db: Connection,
    provider: PaymentProvider,
    account: str,
    order: OrderView,
    method: PaymentMethod,
    amount: int,
    allowed: tuple[RefundTo, ...],
) -> None:
    """Refuse (``UserError``) unless the store's rules, ``allowed``, let ``amount`` of ``order`` go back to
    ``method``: a method that paid the order, up to what it paid; a gift card, as store credit; or, with
    ``"any_method"``, any saved method (a card the order never charged as a credit, which the store's
    provider must be able to pay)."""
    anywhere = "any_method" in allowed
    charges, _ = allocate(payment_rows(db, account, order["id"]))
    paid = sum(c.left for c in charges if c.method == method.id)
    if method.kind == "gift_card" and (anywhere or "gift_card" in allowed):
        return
    if paid >= amount and (anywhere or "paying_method" in allowed):
        return
    if anywhere and crediting(provider, method.token) is not None:
        return
    places = [
        text
        for rule, text in (
            ("any_method", "any of the customer's saved payment methods the payment provider can pay"),
            ("gift_card", "a gift card"),
            ("paying_method", f"a payment method that paid order {order['id']} (up to what it paid)"),
        )
        if rule in allowed
    ]
    raise UserError(
        f"{money(amount, order['currency'])} can go back to {', or to '.join(places)}; {method.id} has "
        f"{money(paid, order['currency'])} of it to take back."
    )


def unsent_refunds(db: Connection, account: str, order_id: str) -> list[Refund]:
    """The order's refunds booked against a provider's charge that the provider has not confirmed."""
    return allocate(payment_rows(db, account, order_id))[1]


def book_refund(
    db: Connection, owner: Owner, order: OrderView, amount: int, method_id: str | None = None
) -> list[Refund]:
    """Book a refund of ``amount`` in ``payments``: back to the earliest charges (of ``method_id``, when
    named) with money left on them, one row each; gift cards are credited now, and what must go through
    the provider is returned to be sent once the transaction commits. What no charge covers goes to the
    named method: a gift card as store credit, a card as a **credit** the provider pays it (the caller has
    checked the store allows it: ``require_refund_to``); unnamed, for an imported order, to its own payment
    method, as its imported history (no provider)."""
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
    now = time.time()
    sends = []
    for reference, method, part in parts:
        if not reference:  # a gift card (or an imported order): the store gives the balance back itself
            credit_gift_card(db, owner, method, part)
        seq = record_payment(db, account, order_id, "refund", part, method, "", now)
        if reference:
            sends.append(Refund(seq, reference, part))
    if left:
        to = method_id or order["payment_method_id"]
        if credit_gift_card(db, owner, to, left) or method_id is None:
            record_payment(db, account, order_id, "refund", left, to, "", now)
        else:
            seq = record_payment(db, account, order_id, "credit", left, to, "", now)
            sends.append(Refund(seq, "", left, to))
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
    """Send booked refunds and credits to the provider and record its ids (a repeat finds the first one)."""
    for refund in refunds:
        if not refund.charge_id:
            done_id = _send_credit(db, provider, owner, order_id, refund)
        else:
            done_id = provider.refund(
                charge_id=refund.charge_id,
                amount=refund.amount,
                idempotency_key=f"{owner.account}:refund:{order_id}:{refund.seq}:{refund.charge_id}",
            ).id
        with db.transaction(lock=f"order:{owner.account}:{order_id}") as conn:
            conn.execute(
                sql(
                    "UPDATE payments SET provider_ref = :ref WHERE account = :account "
                    "AND order_id = :order AND seq = :seq AND provider_ref = ''"
                ),
                {"account": owner.account, "order": order_id, "seq": refund.seq, "ref": done_id},
            )


def _send_credit(db: Database, provider: PaymentProvider, owner: Owner, order_id: str, credit: Refund) -> str:
    """Have the provider pay a booked credit to its saved method; the provider's id for it."""
    with db.reading() as conn:
        row = (
            conn.execute(
                sql(
                    "SELECT m.token, o.currency FROM payment_methods m JOIN orders o "
                    "ON o.account = m.account AND o.user_id = m.user_id "
                    "WHERE m.account = :account AND m.user_id = :user AND m.id = :id AND o.id = :order"
                ),
                owner.params(id=credit.method_id, order=order_id),
            )
            .mappings()
            .first()
        )
    crediter = crediting(provider, str(row["token"])) if row is not None else None
    if row is None or crediter is None:
        raise PaymentProviderError(
            f"A credit of order {order_id} to {credit.method_id} cannot be sent: the method is gone, or the "
            "payment provider pays no credits."
        )
    done = crediter.credit(
        token=str(row["token"]),
        amount=credit.amount,
        currency=str(row["currency"]),
        idempotency_key=f"{owner.account}:credit:{order_id}:{credit.seq}",
    )
    return done.id
