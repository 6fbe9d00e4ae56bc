"""The commerce toolset: what the shopping mode's model may call, for one customer of one store.

Reading tools (search, recommendations, product details, the cart, the customer's addresses, payment
methods and orders) answer with data; a product looked at and one put in the cart are recorded as the
customer's interest signals (a view, a save), which their recommendations learn from.

Tools that would spend money or change an order (``checkout``, ``cancel_order``, ``modify_order_items``,
``change_order_address``, ``return_items``, ``exchange_items``) only **propose**: they record a pending
action (actions.py) and answer with its summary and id, never its confirmation token.
The token goes into ``proposals``, which the CLI, the server or the web page shows to the person; the model
cannot see it, so nothing it reads can confirm anything.

Every tool is bound to the ``Owner`` given when the toolset is built: the model cannot name another user.
Product text and reviews come back under ``untrusted`` keys, as what they are: data from the catalog.
Money is shown as text in the store's currency ("45.00 EUR"); prices the model gives are in that currency.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ponder.commerce.actions import PendingAction, money
from ponder.commerce.catalog import ProductView, SearchHit
from ponder.commerce.model import Address
from ponder.commerce.orders import Swap
from ponder.commerce.shop import Shop
from ponder.memory.interests import Kind
from ponder.memory.owner import Owner
from ponder.tools.base import ToolError, from_function
from ponder.tools.toolset import FunctionToolset

__all__ = ["Proposal", "shopping_toolset"]

MAX_RESULTS = 10
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Proposal:
    """A pending action of this turn, with the token for the person's client (never for the model)."""

    action: PendingAction
    token: str
    owner: Owner  # whose action it is


def shopping_toolset(
    shop: Shop, owner: Owner, proposals: list[Proposal], session_id: str | None = None
) -> FunctionToolset:
    """The tools for ``owner`` shopping in the store of ``owner.account``."""
    account = owner.account
    currency = shop.catalog.store_info(account)["currency"]

    def cents(amount: float | None) -> int | None:
        return None if amount is None else round(amount * 100)

    def hit(h: SearchHit) -> dict[str, Any]:
        p = h.product.product
        prices = sorted({v.price for v in h.variants})
        return {
            "product_id": p.id,
            "name": p.name,
            "category": p.category,
            "price": money(prices[0], currency)
            + (f" to {money(prices[-1], currency)}" if len(prices) > 1 else ""),
            "items": [
                {"item_id": v.id, "options": v.options, "price": money(v.price, currency)} for v in h.variants
            ],
            "untrusted": {"description": p.description[:300]},
        }

    def search_products(
        query: str,
        max_price: float | None = None,
        min_price: float | None = None,
        category: str | None = None,
        size: str | None = None,
        color: str | None = None,
        limit: int = 5,
    ) -> list[dict[str, Any]]:
        """Search the store's catalog by meaning, with optional filters; only items in stock are returned.

        Args:
            query: What the customer is looking for, in words.
            max_price: Highest price, in the store's currency.
            min_price: Lowest price, in the store's currency.
            category: A category id, when the customer named one.
            size: A size option value, such as "M" or "42".
            color: A color option value.
            limit: How many products to return (1-10).
        """
        options = {k: v for k, v in (("size", size), ("color", color)) if v}
        hits = shop.catalog.search(
            account,
            query,
            k=max(1, min(limit, MAX_RESULTS)),
            min_price=cents(min_price),
            max_price=cents(max_price),
            category=category,
            options=options,
        )
        return [hit(h) for h in hits]

    def signal(kind: Kind, views: list[ProductView]) -> None:
        """What the customer looked at or chose, for their recommendations; never fails the tool."""
        try:
            shop.recommendations.record(owner, kind, views)
        except Exception:
            log.warning("could not record a %s for %s", kind, owner, exc_info=True)

    def recommend_products(
        request: str = "", max_price: float | None = None, size: str | None = None, limit: int = 5
    ) -> list[dict[str, Any]]:
        """Products picked for this customer: what they ask for now, blended with their interests, what
        they bought, and what shoppers with similar tastes liked; not what they bought or have in the cart.
        Each comes with why it was picked.

        Args:
            request: What the customer asks for in this conversation, in words; empty for "anything for me".
            max_price: Highest price, in the store's currency.
            size: The customer's size, such as "M" or "42", for products that come in sizes.
            limit: How many products to return (1-10).
        """
        in_cart = [shop.catalog.variant(account, line.variant_id)[0].id for line in shop.carts.lines(owner)]
        found = shop.recommendations.recommend(
            owner,
            request,
            max_price=cents(max_price),
            size=size,
            exclude=in_cart,
            k=max(1, min(limit, MAX_RESULTS)),
        )
        out = []
        for r in found:
            p = r.product.product
            items = r.product.in_stock()
            out.append(
                {
                    "product_id": p.id,
                    "name": p.name,
                    "category": p.category,
                    "price": money(r.recommendation.price, currency),
                    "items": [
                        {"item_id": v.id, "options": v.options, "price": money(v.price, currency)}
                        for v in items
                    ],
                    "why": list(r.recommendation.reasons),
                    "untrusted": {"description": p.description[:300]},
                }
            )
        return out

    def get_product(product_id: str) -> dict[str, Any]:
        """A product's details: its items (variants) with options, price and stock, attributes and reviews.

        Args:
            product_id: The product's id, from a search.
        """
        found = shop.catalog.product(account, product_id)
        signal("view", [found])
        view = found.to_dict()
        reviews = [r.__dict__ for r in found.product.reviews[:5]]
        for v in view["variants"]:
            v["price"] = money(v["price"], currency)
        return {
            "product_id": view["id"],
            "name": view["name"],
            "category": view["category"],
            "brand": view["brand"],
            "attributes": view["attributes"],
            "rating": view["rating"],
            "items": [{"item_id": v.pop("id")} | v for v in view["variants"]],
            "untrusted": {"description": view["description"], "reviews": reviews},
        }

    def view_cart() -> dict[str, Any]:
        """The customer's cart: items, quantities, prices and the total."""
        lines = shop.carts.lines(owner)
        items, total = [], 0
        for line in lines:
            product, variant = shop.catalog.variant(account, line.variant_id)
            total += variant.price * line.quantity
            items.append(
                {
                    "item_id": variant.id,
                    "name": product.product.name,
                    "options": variant.options,
                    "quantity": line.quantity,
                    "price": money(variant.price, currency),
                }
            )
        return {"items": items, "total": money(total, currency)}

    def add_to_cart(item_id: str, quantity: int = 1) -> dict[str, Any]:
        """Add an item (a product variant, by its item_id) to the cart.

        Args:
            item_id: The item's id (a variant of a product), from search_products or get_product.
            quantity: How many to add.
        """
        shop.carts.add(owner, item_id, quantity)
        signal("save", [shop.catalog.variant(account, item_id)[0]])
        return view_cart()

    def remove_from_cart(item_id: str) -> dict[str, Any]:
        """Remove an item from the cart.

        Args:
            item_id: The item's id.
        """
        shop.carts.set_quantity(owner, item_id, 0)
        return view_cart()

    def my_account() -> dict[str, Any]:
        """The customer's saved addresses and payment methods (ids to use for checkout)."""
        return {
            "addresses": [
                {
                    "address_id": a.id,
                    "address": ", ".join(x for x in (a.line1, a.line2, a.city, a.zip, a.country) if x),
                }
                for a in shop.customers.addresses(owner)
            ],
            "payment_methods": [
                {
                    "payment_method_id": m.id,
                    "kind": m.kind,
                    "label": " ".join(x for x in (m.brand, m.last4) if x),
                }
                | ({"balance": money(m.balance, currency)} if m.balance is not None else {})
                for m in shop.customers.payment_methods(owner)
            ],
        }

    def list_orders() -> list[dict[str, Any]]:
        """The customer's orders, newest first, with their status and total."""
        return [
            {
                "order_id": o["id"],
                "status": o["status"],
                "total": money(o["total"], o["currency"]),
                "items": [f"{i['quantity']} × {i['name']}" for i in o["items"]],
            }
            for o in shop.orders.list_orders(owner)
        ]

    def get_order(order_id: str) -> dict[str, Any]:
        """One order in full: items (numbered by "seq", for changes, returns and exchanges), address,
        payments and status history.

        Args:
            order_id: The order's id.
        """
        return dict(shop.orders.get(owner, order_id))

    def propose(action: PendingAction, token: str) -> dict[str, Any]:
        proposals.append(Proposal(action, token, owner))
        return action.for_model()

    def checkout(address_id: str, payment_method_id: str) -> dict[str, Any]:
        """Propose buying everything in the cart. Nothing is bought until the customer confirms it themselves.

        Args:
            address_id: Where to ship, from my_account.
            payment_method_id: How to pay, from my_account.
        """
        return propose(
            *shop.actions.propose_checkout(owner, address_id=address_id, payment_method_id=payment_method_id)
        )

    def cancel_order(order_id: str, reason: str) -> dict[str, Any]:
        """Propose cancelling a pending order (refunded in full). The customer confirms it themselves.

        Args:
            order_id: The order to cancel.
            reason: Why, in the customer's words.
        """
        return propose(*shop.actions.propose_cancel(owner, order_id, reason))

    def return_items(order_id: str, item_numbers: list[int], reason: str) -> dict[str, Any]:
        """Propose returning delivered items for a refund. The customer confirms it themselves.

        Args:
            order_id: The delivered order.
            item_numbers: The items' "seq" numbers in get_order.
            reason: Why, in the customer's words.
        """
        return propose(*shop.actions.propose_return(owner, order_id, item_numbers, reason))

    def modify_order_items(
        order_id: str, item_numbers: list[int], new_item_ids: list[str], payment_method_id: str
    ) -> dict[str, Any]:
        """Propose changing items of a pending order to other items of the same product (size, color...).

        A pending order's items can be changed only once, so gather every change the customer wants first
        and propose them together. The price difference is charged to the payment method, or refunded to it
        (a gift card, or a method that paid the order). The customer confirms it themselves.

        Args:
            order_id: The pending order.
            item_numbers: The items to change, by their "seq" numbers in get_order.
            new_item_ids: The item each becomes, in the same order: an item_id of the same product (from
                get_product), different from the current one and in stock.
            payment_method_id: Pays or receives the price difference, from my_account or the order.
        """
        swaps = _swaps(item_numbers, new_item_ids)
        return propose(*shop.actions.propose_modify(owner, order_id, swaps, payment_method_id))

    def change_order_address(
        order_id: str,
        address_id: str = "",
        line1: str = "",
        line2: str = "",
        city: str = "",
        state: str = "",
        zip: str = "",
        country: str = "",
    ) -> dict[str, Any]:
        """Propose shipping a pending order to another address. The customer confirms it themselves.

        Give a saved address (address_id, from my_account) or a new one (line1, city and country at least).
        No money moves.

        Args:
            order_id: The pending order.
            address_id: A saved address's id; leave the other fields empty when giving it.
            line1: A new address: the street and number.
            line2: A new address: apartment, floor, building (optional).
            city: A new address: the city.
            state: A new address: the state or region (optional).
            zip: A new address: the postal code.
            country: A new address: the country.
        """
        fields = (line1, line2, city, state, zip, country)
        if address_id and any(fields):
            raise ToolError("Give either address_id or the fields of a new address, not both.")
        if address_id:
            return propose(*shop.actions.propose_change_address(owner, order_id, address_id=address_id))
        new = Address("", line1, city, country, line2=line2, state=state, zip=zip)
        return propose(*shop.actions.propose_change_address(owner, order_id, address=new))

    def exchange_items(
        order_id: str, item_numbers: list[int], new_item_ids: list[str], payment_method_id: str
    ) -> dict[str, Any]:
        """Propose exchanging items of a delivered order for items of the same product (size, color...).

        The same item again replaces a faulty one. A delivered order is returned or exchanged only once, so
        gather every item first. The customer sends the old items back; the price difference is charged to
        the payment method, or refunded to it (a gift card, or a method that paid the order). The customer
        confirms it themselves.

        Args:
            order_id: The delivered order.
            item_numbers: The items to exchange, by their "seq" numbers in get_order.
            new_item_ids: The item each is exchanged for, in the same order: an item_id of the same product
                (from get_product), in stock.
            payment_method_id: Pays or receives the price difference, from my_account or the order.
        """
        swaps = _swaps(item_numbers, new_item_ids)
        return propose(*shop.actions.propose_exchange(owner, order_id, swaps, payment_method_id))

    def hand_off_to_person(reason: str, summary: str) -> dict[str, Any]:
        """Hand the conversation to a person of the store's staff, when the customer asks for one or the
        request is beyond these tools.

        Args:
            reason: Why a person is needed, in a few words.
            summary: What the customer wants and what was done so far, for the person taking over.
        """
        ticket = shop.support.open_ticket(owner, reason, summary, session_id)
        return {"ticket": ticket.id, "status": "A person from the store will take over this conversation."}

    toolset = FunctionToolset("shop")
    for fn in (
        search_products,
        recommend_products,
        get_product,
        view_cart,
        add_to_cart,
        remove_from_cart,
        my_account,
        list_orders,
        get_order,
        checkout,
        cancel_order,
        modify_order_items,
        change_order_address,
        return_items,
        exchange_items,
        hand_off_to_person,
    ):
        toolset.add(from_function(_errors_as_tool_errors(fn), concurrent=False))  # in the order called
    return toolset


def _swaps(item_numbers: list[int], new_item_ids: list[str]) -> list[Swap]:
    if len(item_numbers) != len(new_item_ids):
        raise ToolError(
            f"Give one new item id for each item number ({len(item_numbers)} numbers, "
            f"{len(new_item_ids)} item ids)."
        )
    return list(zip(item_numbers, new_item_ids, strict=True))


def _errors_as_tool_errors(fn: Any) -> Any:
    """Ponder's errors (an unknown item, an empty cart) go back to the model as what they say."""
    import functools

    from ponder.errors import PonderError

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PonderError as error:
            raise ToolError(str(error)) from error

    return call
