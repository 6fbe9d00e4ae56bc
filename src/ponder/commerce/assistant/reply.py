"""The words of a shopping reply, written from what the runtime fetched: every product, price, order and
amount in them comes from the store, so a reply cannot name what the store does not hold.

Product names are written in bold, and only product names: table.py reads them back to know which products
a later "the second one" or "the cheapest" means. Each function writes one kind of fact; execute.py picks
which, in what order.

It reads nothing from the store and decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.commerce.action_records import PendingAction
from ponder.commerce.actions import money
from ponder.commerce.assistant.table import Table, options_text
from ponder.commerce.catalog import ProductView
from ponder.commerce.model import Variant
from ponder.commerce.order_records import OrderView

__all__ = [
    "cart_text",
    "order_line",
    "order_text",
    "product_details",
    "product_line",
    "proposal_text",
    "variants_text",
]

CONFIRM = (
    "It waits for your own confirmation in your app: nothing happens until you confirm it there, "
    "and you can decline it."
)


def product_line(table: Table, number: int, product: ProductView, variants: Sequence[Variant]) -> str:
    """``1. **Name** — 68.00 USD; sizes S, M; colors white, sand`` for the variants given (in stock)."""
    prices = sorted({v.price for v in variants})
    price = table.money(prices[0]) + (f" to {table.money(prices[-1])}" if len(prices) > 1 else "")
    return f"{number}. **{product.product.name}** — {price}" + "".join(
        f"; {name}s {', '.join(values)}" for name, values in _option_values(variants).items()
    )


def variants_text(variants: Sequence[Variant]) -> str:
    """The options of ``variants``, as "sizes S, M; colors white" ("" when there are none)."""
    return "; ".join(f"{name}s {', '.join(values)}" for name, values in _option_values(variants).items())


def product_details(table: Table, product: ProductView) -> str:
    p = product.product
    stock = product.in_stock()
    lines = [f"**{p.name}**" + (f" by {p.brand}" if p.brand else "")]
    prices = sorted({v.price for v in p.variants})
    if prices:
        lines.append(
            "Price: " + table.money(prices[0]) + (f" to {table.money(prices[-1])}" if len(prices) > 1 else "")
        )
    for key, value in list(p.attributes.items())[:6]:
        lines.append(f"{key.capitalize()}: {value}")
    if stock:
        lines.append("In stock: " + variants_text(stock) if variants_text(stock) else "In stock.")
        by_size = _by_option(stock, "size")
        if by_size and len(by_size) > 1 and any(len(v) > 1 for v in by_size.values()):
            lines.append(
                "By size: " + "; ".join(f"{size}: {', '.join(colors)}" for size, colors in by_size.items())
            )
    else:
        lines.append("Out of stock at the moment.")
    return "\n".join(lines)


def cart_text(table: Table) -> str:
    if not table.cart:
        return "Your cart is empty."
    lines = ["In your cart:"]
    for line in table.cart:
        options = options_text(line.variant)
        lines.append(
            f"- **{line.product.product.name}**{f' ({options})' if options else ''} x{line.quantity}: "
            f"{table.money(line.variant.price * line.quantity)}"
        )
    lines.append(f"Total: {table.money(table.cart_total())}")
    return "\n".join(lines)


def order_line(order: OrderView) -> str:
    items = ", ".join(
        f"{i['name']}" + (f" x{i['quantity']}" if i["quantity"] > 1 else "") for i in order["items"]
    )
    return f"- Order {order['id']}: {order['status']}, {money(order['total'], order['currency'])} ({items})"


_STATUS = {
    "pending": "not shipped yet: it can still be cancelled, or changed (items, address)",
    "processed": "being packed or on its way: it can no longer be cancelled or changed",
    "delivered": "delivered: items can be returned or exchanged within the store's return window",
    "cancelled": "cancelled",
    "return requested": "a return was requested",
    "exchange requested": "an exchange was requested",
}


def order_text(order: OrderView) -> str:
    lines = [f"Order {order['id']}: {order['status']} ({_STATUS.get(order['status'], order['status'])})."]
    for item in order["items"]:
        options = ", ".join(f"{k} {v}" for k, v in item["options"].items())
        state = f" ({item['state']})" if item["state"] not in ("ordered", "") else ""
        lines.append(
            f"- {item['name']}{f' ({options})' if options else ''} x{item['quantity']}: "
            f"{money(item['price'] * item['quantity'], order['currency'])}{state}"
        )
    lines.append(f"Total: {money(order['total'], order['currency'])}")
    if order["address"]:
        a = order["address"]
        lines.append(f"Ships to: {a.get('line1', '')}, {a.get('city', '')}")
    return "\n".join(lines)


def proposal_text(action: PendingAction, lead: str) -> str:
    return f"{lead}\n{action.summary}\n{CONFIRM}"


def _option_values(variants: Sequence[Variant]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for v in variants:
        for name, value in v.options.items():
            if value not in values.setdefault(name, []):
                values[name].append(value)
    return values


def _by_option(variants: Sequence[Variant], option: str) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for v in variants:
        if option in v.options:
            rest = ", ".join(str(x) for k, x in v.options.items() if k != option)
            grouped.setdefault(v.options[option], []).append(rest)
    return {k: [x for x in v if x] for k, v in grouped.items()}
