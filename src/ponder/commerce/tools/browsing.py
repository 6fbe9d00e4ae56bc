"""The reading tools of the catalog, the cart and the customer's account: search, recommendations,
product details, the cart (adding and removing items), the saved addresses and payment methods.

A product looked at and one put in the cart are recorded as the customer's interest signals (a view, a
save), which their recommendations learn from; a signal that cannot be recorded never fails the tool.
Product text and reviews come back under ``untrusted`` keys. Nothing here spends money or changes an
order: that is orders.py.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from ponder.commerce.actions import money
from ponder.commerce.catalog import ProductView, SearchHit
from ponder.commerce.tools.customer import CustomerTools
from ponder.memory.interests import Kind

__all__ = ["BrowsingTools"]

MAX_RESULTS = 10
log = logging.getLogger(__name__)


class BrowsingTools(CustomerTools):
    """Catalog, cart and account tools for one customer."""

    TOOLS: ClassVar[tuple[str, ...]] = (
        "search_products",
        "recommend_products",
        "get_product",
        "view_cart",
        "add_to_cart",
        "remove_from_cart",
        "my_account",
    )

    def _cents(self, amount: float | None) -> int | None:
        return None if amount is None else round(amount * 100)

    def _hit(self, h: SearchHit) -> dict[str, Any]:
        p = h.product.product
        prices = sorted({v.price for v in h.variants})
        return {
            "product_id": p.id,
            "name": p.name,
            "category": p.category,
            "price": money(prices[0], self.currency)
            + (f" to {money(prices[-1], self.currency)}" if len(prices) > 1 else ""),
            "items": [
                {"item_id": v.id, "options": v.options, "price": money(v.price, self.currency)}
                for v in h.variants
            ],
            "untrusted": {"description": p.description[:300]},
        }

    def search_products(
        self,
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
            for_someone_else: True for another person (a gift): picked without this customer's interests.
        """
        options = {k: v for k, v in (("size", size), ("color", color)) if v}
        hits = self.shop.catalog.search(
            self.account,
            query,
            k=max(1, min(limit, MAX_RESULTS)),
            min_price=self._cents(min_price),
            max_price=self._cents(max_price),
            category=category,
            options=options,
        )
        return [self._hit(h) for h in hits]

    def _signal(self, kind: Kind, views: list[ProductView]) -> None:
        """What the customer looked at or chose, for their recommendations; never fails the tool."""
        try:
            self.shop.recommendations.record(self.owner, kind, views)
        except Exception:
            log.warning("could not record a %s for %s", kind, self.owner, exc_info=True)

    def recommend_products(
        self,
        request: str = "",
        max_price: float | None = None,
        size: str | None = None,
        limit: int = 5,
        for_someone_else: bool = False,
    ) -> list[dict[str, Any]]:
        """Products picked for this customer: what they ask for now, blended with their interests, what
        they bought, and what shoppers with similar tastes liked; not what they bought or have in the cart.
        Each comes with why it was picked.

        Args:
            request: What the customer asks for in this conversation, in words; empty for "anything for me".
            max_price: Highest price, in the store's currency.
            size: The customer's size, such as "M" or "42", for products that come in sizes.
            limit: How many products to return (1-10).
            for_someone_else: True for another person (a gift): picked without this customer's interests.
        """
        in_cart = [
            self.shop.catalog.variant(self.account, line.variant_id)[0].id
            for line in self.shop.carts.lines(self.owner)
        ]
        found = self.shop.recommendations.recommend(
            self.owner,
            request,
            max_price=self._cents(max_price),
            size=size,
            exclude=in_cart,
            k=max(1, min(limit, MAX_RESULTS)),
            personal=not for_someone_else,
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
                    "price": money(r.recommendation.price, self.currency),
                    "items": [
                        {"item_id": v.id, "options": v.options, "price": money(v.price, self.currency)}
                        for v in items
                    ],
                    "why": list(r.recommendation.reasons),
                    "untrusted": {"description": p.description[:300]},
                }
            )
        return out

    def get_product(self, product_id: str) -> dict[str, Any]:
        """A product's details: its items (variants) with options, price and stock, attributes and reviews.

        Args:
            product_id: The product's id, from a search.
        """
        found = self.shop.catalog.product(self.account, product_id)
        self._signal("view", [found])
        view = found.to_dict()
        reviews = [r.__dict__ for r in found.product.reviews[:5]]
        for v in view["variants"]:
            v["price"] = money(v["price"], self.currency)
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

    def view_cart(self) -> dict[str, Any]:
        """The customer's cart: items, quantities, prices and the total."""
        lines = self.shop.carts.lines(self.owner)
        items, total = [], 0
        for line in lines:
            product, variant = self.shop.catalog.variant(self.account, line.variant_id)
            total += variant.price * line.quantity
            items.append(
                {
                    "item_id": variant.id,
                    "name": product.product.name,
                    "options": variant.options,
                    "quantity": line.quantity,
                    "price": money(variant.price, self.currency),
                }
            )
        return {"items": items, "total": money(total, self.currency)}

    def add_to_cart(self, item_id: str, quantity: int = 1) -> dict[str, Any]:
        """Add an item (a product variant, by its item_id) to the cart.

        Args:
            item_id: The item's id (a variant of a product), from search_products or get_product.
            quantity: How many to add.
        """
        self.shop.carts.add(self.owner, item_id, quantity)
        self._signal("save", [self.shop.catalog.variant(self.account, item_id)[0]])
        return self.view_cart()

    def remove_from_cart(self, item_id: str) -> dict[str, Any]:
        """Remove an item from the cart.

        Args:
            item_id: The item's id.
        """
        self.shop.carts.set_quantity(self.owner, item_id, 0)
        return self.view_cart()

    def my_account(self) -> dict[str, Any]:
        """The customer's saved addresses and payment methods (ids to use for checkout)."""
        return {
            "addresses": [
                {
                    "address_id": a.id,
                    "address": ", ".join(x for x in (a.line1, a.line2, a.city, a.zip, a.country) if x),
                }
                for a in self.shop.customers.addresses(self.owner)
            ],
            "payment_methods": [
                {
                    "payment_method_id": m.id,
                    "kind": m.kind,
                    "label": " ".join(x for x in (m.brand, m.last4) if x),
                }
                | ({"balance": money(m.balance, self.currency)} if m.balance is not None else {})
                for m in self.shop.customers.payment_methods(self.owner)
            ],
        }
