"""Inventory: pricing a line from the catalog, taking and giving back stock, and gift-card balances.

The one place that reads a variant's price and stock for selling it and that writes stock and gift-card
balances. Checkout (checkout.py), item changes (swaps.py), cancellations, returns and refunds (orders.py,
refunds.py) use these functions, and the UCP adapter's checkout session reads its lines with
``read_variants``; none of them writes ``variants.stock`` or ``payment_methods.balance`` itself.

Stock. ``variants.stock`` is a count, or NULL for a variant whose stock is not tracked (always sellable while
``available``). ``available = false`` sells nothing, whatever the count. So:

- ``priced_variant`` reads a variant as a line would be priced now (``NotFoundError`` if the store has none);
  ``PricedVariant.left`` says how many can be sold (0 if unavailable, None if untracked) and ``require``
  refuses (``ConflictError``) a quantity it cannot cover; ``price_lines`` prices and checks a list of
  ``(variant_id, quantity)`` lines (checkout), ``read_variants`` reads several without refusing any (a
  caller that reports each line's problem itself, as the UCP adapter's checkout session does);
- ``take_stock`` takes a quantity in the caller's transaction with one guarded ``UPDATE``: an untracked,
  available variant is taken without a count (NULL stays NULL), an unavailable or short one refuses with
  ``ConflictError`` and changes nothing;
- ``give_back_stock`` puts a quantity back (a cancellation, a pending order's swapped item); an untracked
  variant stays untracked.

Gift cards are the store's own money, held in the buyer's ``payment_methods.balance``: ``debit_gift_card``
takes an amount in the caller's transaction, or refuses (``PaymentDeclinedError``, ``insufficient_funds``)
without taking anything if the balance does not cover it; ``credit_gift_card`` gives an amount back (a
refund). ``require_gift_card_covers`` is the same check at pricing time, before anything is written.

Every writer here runs in the caller's transaction (a ``Connection``), so stock, balance and the order that
moves them commit together or not at all. Not here: the order rows (order_records.py), charges through the
payment provider (payments.py), and deciding what to sell (checkout.py, swaps.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from ponder.commerce.model import PaymentMethod
from ponder.errors import ConflictError, NotFoundError, PaymentDeclinedError
from ponder.memory.owner import Owner
from ponder.store.database import sql

__all__ = [
    "PricedVariant",
    "credit_gift_card",
    "debit_gift_card",
    "give_back_stock",
    "money",
    "price_lines",
    "priced_variant",
    "read_variants",
    "require_gift_card_covers",
    "take_stock",
]


def money(amount: int, currency: str) -> str:
    """Minor units as text for a person: ``money(4500, "EUR")`` is "45.00 EUR"."""
    return f"{amount / 100:,.2f} {currency}"


@dataclass(frozen=True)
class PricedVariant:
    """A variant as a line of an order is priced from the catalog now."""

    variant_id: str
    product_id: str
    name: str  # the product's name
    options: dict[str, str]  # option name -> value, e.g. {"size": "M"}
    price: int  # minor units, one unit
    stock: int | None  # None: not tracked
    available: bool
    image_url: str = ""  # the product's image ("" : none)

    @property
    def left(self) -> int | None:
        """How many can be sold now: 0 if not available, None if the stock is not tracked (no limit)."""
        if not self.available:
            return 0
        return None if self.stock is None else max(self.stock, 0)

    def covers(self, quantity: int, *, returned: int = 0) -> bool:
        """Whether ``quantity`` can be sold, counting ``returned`` units that the same change first gives
        back (a pending order swapping its own items)."""
        left = self.left
        return left is None or (self.available and left + returned >= quantity)

    def require(self, quantity: int, *, returned: int = 0) -> None:
        """``ConflictError`` unless ``covers(quantity, returned=returned)``: "'Linen shirt' (shirt-m) has
        only 2 in stock.", or, for a variant the store does not sell now (whether or not its stock is
        counted), "'Linen shirt' (shirt-m) is not available."."""
        if not self.covers(quantity, returned=returned):
            if not self.available:
                raise ConflictError(f"'{self.name}' ({self.variant_id}) is not available.")
            left = (self.left or 0) + returned
            raise ConflictError(f"'{self.name}' ({self.variant_id}) has only {left} in stock.")


def priced_variant(db: Connection, account: str, variant_id: str) -> PricedVariant:
    """The variant ``variant_id`` of the store ``account``, with its product's name, as sold now;
    ``NotFoundError`` if the store has no such item."""
    row = (
        db.execute(
            sql(
                "SELECT v.product_id, v.options, v.price, v.stock, v.available, p.name, p.image_url "
                "FROM variants v JOIN products p ON p.account = v.account AND p.id = v.product_id "
                "WHERE v.account = :account AND v.id = :id"
            ),
            {"account": account, "id": variant_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"No item '{variant_id}' in this store.")
    return PricedVariant(
        variant_id=variant_id,
        product_id=str(row["product_id"]),
        name=str(row["name"]),
        options=json.loads(row["options"]),
        price=int(row["price"]),
        stock=None if row["stock"] is None else int(row["stock"]),
        available=bool(row["available"]),
        image_url=str(row["image_url"] or ""),
    )


def price_lines(db: Connection, account: str, lines: Sequence[tuple[str, int]]) -> list[PricedVariant]:
    """Each ``(variant_id, quantity)`` line's variant as sold now, in order, its stock checked for the
    quantity: ``NotFoundError`` for an item the store does not have, ``ConflictError`` for one it cannot
    sell that many of (the first such line). What checkout prices an order with."""
    priced = []
    for variant_id, quantity in lines:
        variant = priced_variant(db, account, variant_id)
        variant.require(quantity)
        priced.append(variant)
    return priced


def read_variants(db: Connection, account: str, variant_ids: Sequence[str]) -> dict[str, PricedVariant]:
    """The variants of ``variant_ids`` the store has, by id, as sold now (no stock check, none missing
    raised): for a caller that reports each line's problem itself (the UCP adapter's checkout session:
    ``not variant.available``, ``not variant.covers(quantity)``, with ``variant.left`` for the message)."""
    found = {}
    for variant_id in dict.fromkeys(variant_ids):
        try:
            found[variant_id] = priced_variant(db, account, variant_id)
        except NotFoundError:
            continue
    return found


def take_stock(db: Connection, account: str, variant_id: str, name: str, quantity: int) -> None:
    """Take ``quantity`` of a variant, in the caller's transaction: one guarded ``UPDATE``, so two buyers of
    the last one cannot both have it. An untracked variant (NULL stock) is taken while it is available;
    ``ConflictError`` (nothing taken) if the variant is unavailable, gone or short. ``name`` is for the
    message."""
    taken = db.execute(
        sql(
            "UPDATE variants SET stock = stock - :q WHERE account = :account AND id = :id AND available "
            "AND (stock IS NULL OR stock >= :q)"
        ),
        {"account": account, "id": variant_id, "q": quantity},
    ).rowcount
    if not taken:
        raise ConflictError(f"'{name}' ({variant_id}) sold out meanwhile; nothing was changed.")


def give_back_stock(db: Connection, account: str, variant_id: str, quantity: int) -> None:
    """Put ``quantity`` of a variant back in stock, in the caller's transaction (an untracked one stays
    untracked; a variant deleted since is left alone)."""
    db.execute(
        sql(
            "UPDATE variants SET stock = stock + :q WHERE account = :account AND id = :id "
            "AND stock IS NOT NULL"
        ),
        {"account": account, "id": variant_id, "q": quantity},
    )


def require_gift_card_covers(method: PaymentMethod, amount: int, currency: str, what: str) -> None:
    """At pricing: ``PaymentDeclinedError`` (``insufficient_funds``) if ``method`` is a gift card whose
    balance is under ``amount`` (``what`` names it in the message: "the total"). Other methods pass."""
    if method.kind == "gift_card" and (method.balance or 0) < amount:
        raise PaymentDeclinedError(
            f"The gift card {method.id} has {money(method.balance or 0, currency)} left, less than "
            f"{what} {money(amount, currency)}.",
            code="insufficient_funds",
        )


def debit_gift_card(db: Connection, owner: Owner, method_id: str, amount: int, currency: str) -> None:
    """Take ``amount`` from the buyer's gift card ``method_id``, in the caller's transaction, only if its
    balance covers it (one guarded ``UPDATE``); ``PaymentDeclinedError`` (``insufficient_funds``) and
    nothing taken otherwise."""
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


def credit_gift_card(db: Connection, owner: Owner, method_id: str, amount: int) -> bool:
    """Give ``amount`` back to the buyer's gift card ``method_id`` (a refund), in the caller's transaction;
    False if the buyer has no such gift card (nothing written)."""
    credited = db.execute(
        sql(
            "UPDATE payment_methods SET balance = balance + :amount WHERE account = :account "
            "AND user_id = :user AND id = :id AND kind = 'gift_card'"
        ),
        owner.params(id=method_id, amount=amount),
    ).rowcount
    return bool(credited)
