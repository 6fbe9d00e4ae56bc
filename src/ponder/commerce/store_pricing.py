"""A store's pricing rules in the database, and a cart priced with them at the store's current prices.

``write_pricing_rules`` replaces an account's discount codes, shipping options and promotions with a
``StoreData``'s, in the import's transaction (catalog.py calls it); ``read_pricing_rules`` reads them back
in file order as ``PricingRules``. ``StorePricing.price`` prices ``(variant_id, quantity)`` lines at what
the store sells them for now (stock checked, as checkout does) with ``price_cart`` (pricing.py).

Not here: the rules themselves (pricing.py), and charging what is priced: checkout still charges the items
subtotal; wiring codes and shipping into placed orders (and refunds of discounted items) is a later step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from ponder.commerce.inventory import price_lines
from ponder.commerce.model import DiscountCode, Promotion, ShippingOption, StoreData
from ponder.commerce.pricing import Priced, PriceLine, PricingRules, price_cart
from ponder.store.database import Database, sql

__all__ = ["StorePricing", "read_pricing_rules", "write_pricing_rules"]

_TABLES = ("discount_codes", "shipping_options", "promotions")


def write_pricing_rules(db: Connection, account: str, store: StoreData) -> None:
    """Replace the account's codes, shipping options and promotions with ``store``'s."""
    for table in _TABLES:
        db.execute(sql(f"DELETE FROM {table} WHERE account = :account"), {"account": account})
    if store.discount_codes:
        db.execute(
            sql(
                "INSERT INTO discount_codes (account, code, seq, kind, value, title, min_subtotal, "
                "expires_at, active) VALUES (:account, :code, :seq, :kind, :value, :title, "
                ":min_subtotal, :expires_at, :active)"
            ),
            [
                {
                    "account": account,
                    "seq": i,
                    "code": c.code,
                    "kind": c.kind,
                    "value": c.value,
                    "title": c.title,
                    "min_subtotal": c.min_subtotal,
                    "expires_at": c.expires_at,
                    "active": c.active,
                }
                for i, c in enumerate(store.discount_codes)
            ],
        )
    if store.shipping_options:
        db.execute(
            sql(
                "INSERT INTO shipping_options (account, id, seq, title, price, countries, service_level) "
                "VALUES (:account, :id, :seq, :title, :price, :countries, :level)"
            ),
            [
                {
                    "account": account,
                    "id": o.id,
                    "seq": i,
                    "title": o.title,
                    "price": o.price,
                    "countries": json.dumps(list(o.countries)),
                    "level": o.service_level,
                }
                for i, o in enumerate(store.shipping_options)
            ],
        )
    if store.promotions:
        db.execute(
            sql(
                "INSERT INTO promotions (account, id, seq, kind, title, min_subtotal, shipping_options, "
                "items) VALUES (:account, :id, :seq, :kind, :title, :min_subtotal, :options, :items)"
            ),
            [
                {
                    "account": account,
                    "id": p.id,
                    "seq": i,
                    "kind": p.kind,
                    "title": p.title,
                    "min_subtotal": p.min_subtotal,
                    "options": json.dumps(list(p.shipping_options)),
                    "items": json.dumps(list(p.items)),
                }
                for i, p in enumerate(store.promotions)
            ],
        )


def read_pricing_rules(db: Connection, account: str) -> PricingRules:
    """The account's codes, shipping options and promotions, in the store file's order."""
    args = {"account": account}
    codes = db.execute(
        sql(
            "SELECT code, kind, value, title, min_subtotal, expires_at, active FROM discount_codes "
            "WHERE account = :account ORDER BY seq"
        ),
        args,
    ).all()
    options = db.execute(
        sql(
            "SELECT id, title, price, countries, service_level FROM shipping_options "
            "WHERE account = :account ORDER BY seq"
        ),
        args,
    ).all()
    promotions = db.execute(
        sql(
            "SELECT id, kind, title, min_subtotal, shipping_options, items FROM promotions "
            "WHERE account = :account ORDER BY seq"
        ),
        args,
    ).all()
    return PricingRules(
        discount_codes=tuple(
            DiscountCode(
                r.code,
                r.kind,
                int(r.value),
                r.title,
                None if r.min_subtotal is None else int(r.min_subtotal),
                None if r.expires_at is None else float(r.expires_at),
                bool(r.active),
            )
            for r in codes
        ),
        shipping_options=tuple(
            ShippingOption(r.id, r.title, int(r.price), tuple(json.loads(r.countries)), r.service_level)
            for r in options
        ),
        promotions=tuple(
            Promotion(
                r.id,
                r.kind,
                r.title,
                int(r.min_subtotal),
                tuple(json.loads(r.shipping_options)),
                tuple(json.loads(r.items)),
            )
            for r in promotions
        ),
    )


class StorePricing:
    def __init__(self, db: Database) -> None:
        self.db = db

    def rules(self, account: str) -> PricingRules:
        """The account's codes, shipping options and promotions."""
        with self.db.reading() as db:
            return read_pricing_rules(db, account)

    def price(
        self,
        account: str,
        lines: Sequence[tuple[str, int]],
        codes: Sequence[str] = (),
        destination: str | None = None,
        *,
        shipping_option: str | None = None,
        now: float | None = None,
    ) -> Priced:
        """``(variant_id, quantity)`` lines priced at the store's prices now, with the store's rules: the
        codes applied in order, the shipping options to the ``destination`` country and the one chosen.
        ``NotFoundError``/``ConflictError`` for an item the store does not have or cannot sell that many
        of; ``UserError`` for a shipping option that does not ship there."""
        with self.db.reading() as db:
            variants = price_lines(db, account, lines)
            rules = read_pricing_rules(db, account)
        priced = [
            PriceLine(v.variant_id, v.price, q, v.product_id)
            for v, (_, q) in zip(variants, lines, strict=True)
        ]
        return price_cart(
            priced,
            codes,
            destination,
            rules,
            now=time.time() if now is None else now,
            shipping_option=shipping_option,
        )
