"""What is on the table in a shopping turn: the products the conversation showed last, the cart, and the
customer's orders, addresses and payment methods, read from the store.

``read_table`` reads it all for one customer (blocking: run it in a worker thread). The products shown are
found again in the conversation itself: every product the assistant names is written in bold by reply.py,
so the latest assistant message that names products says which ones "the second one" or "the cheapest"
means, whatever surface carried the conversation (a stored session, or a client sending the whole history).

It decides nothing: resolving a reference is execute.py's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ponder.commerce.actions import money
from ponder.commerce.catalog import ProductView
from ponder.commerce.model import Address, PaymentMethod, Variant
from ponder.commerce.order_records import OrderView
from ponder.commerce.shop import Shop
from ponder.memory.owner import Owner
from ponder.messages import Message

__all__ = ["CartLine", "Table", "options_text", "read_cart", "read_table", "shown_names"]

_BOLD = re.compile(r"\*\*(.+?)\*\*")
MAX_SHOWN = 10


@dataclass(frozen=True)
class CartLine:
    product: ProductView
    variant: Variant
    quantity: int


@dataclass(frozen=True)
class Table:
    store: str
    currency: str
    policy: str
    shown: list[ProductView]  # the products of the latest assistant message that named some, in its order
    cart: list[CartLine]
    orders: list[OrderView]  # newest first
    addresses: list[Address]
    methods: list[PaymentMethod]
    categories: dict[str, str]  # the store's categories: id -> name ("Clothing: Shirts & Tops")

    def money(self, cents: int) -> str:
        return money(cents, self.currency)

    def cart_total(self) -> int:
        return sum(line.variant.price * line.quantity for line in self.cart)


def read_table(shop: Shop, owner: Owner, history: Sequence[Message]) -> Table:
    """The table for ``owner``'s turn, ``history`` being the conversation before the new message."""
    info = shop.catalog.store_info(owner.account)
    names = shown_names(history)
    return Table(
        store=info["name"],
        currency=info["currency"],
        policy=info["policy"] or "",
        shown=shop.catalog.named(owner.account, names) if names else [],
        cart=read_cart(shop, owner),
        orders=shop.orders.list_orders(owner),
        addresses=shop.customers.addresses(owner),
        methods=shop.customers.payment_methods(owner),
        categories=shop.catalog.category_names(owner.account),
    )


def read_cart(shop: Shop, owner: Owner) -> list[CartLine]:
    """``owner``'s cart as it is now, each line with its product and item."""
    lines = []
    for line in shop.carts.lines(owner):
        product, variant = shop.catalog.variant(owner.account, line.variant_id)
        lines.append(CartLine(product, variant, line.quantity))
    return lines


def shown_names(history: Sequence[Message]) -> list[str]:
    """The product names in bold in the latest assistant message that has any, in order."""
    for message in reversed(history):
        if message.role != "assistant":
            continue
        names = list(dict.fromkeys(_BOLD.findall(message.text)))
        if names:
            return names[:MAX_SHOWN]
    return []


def options_text(variant: Variant) -> str:
    return ", ".join(f"{k} {v}" for k, v in variant.options.items())
