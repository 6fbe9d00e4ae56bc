"""A store's pricing rules are stored by its import (replaced by the next one) and read back in order, and
a cart is priced at the store's current prices with them, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from ponder.commerce.catalog import Catalog
from ponder.commerce.model import DiscountCode, Promotion, ShippingOption
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.pricing import PricingRules
from ponder.commerce.store_pricing import StorePricing, read_pricing_rules
from ponder.errors import ConflictError, NotFoundError
from ponder.store import open_database
from ponder.store.database import Database
from ponder.testing import HashingEmbedder

from .conftest import SHOP, store_data

NOW = 1_800_000_000.0
RULES = PricingRules(
    discount_codes=(
        DiscountCode("WELCOME10", "percentage", 10, title="Welcome"),
        DiscountCode("SPRING5", "fixed_amount", 500, min_subtotal=6000, expires_at=NOW + 3600),
        DiscountCode("OLD", "percentage", 50, active=False),
    ),
    shipping_options=(
        ShippingOption("pt", "Portugal", 390, ("PT",)),
        ShippingOption("eu", "EU", 890, ("FR", "DE", "PT")),
        ShippingOption("world", "Worldwide", 1990),
    ),
    promotions=(Promotion("free-pt", "free_shipping", "Free shipping over 80", 8000, ("pt",)),),
)


@pytest.fixture
def db(database_url: str) -> Database:
    db = open_database(database_url)
    store = dataclasses.replace(
        store_data(TestPaymentProvider()),
        discount_codes=RULES.discount_codes,
        shipping_options=RULES.shipping_options,
        promotions=RULES.promotions,
    )
    Catalog(db, HashingEmbedder()).import_store(SHOP, store)
    return db


def test_an_import_stores_the_rules_and_the_next_import_replaces_them(db: Database) -> None:
    with db.reading() as conn:
        assert read_pricing_rules(conn, SHOP) == RULES
        assert read_pricing_rules(conn, "other") == PricingRules()
    Catalog(db, HashingEmbedder()).import_store(SHOP, store_data(TestPaymentProvider()))
    with db.reading() as conn:
        assert read_pricing_rules(conn, SHOP) == PricingRules()


def test_a_cart_is_priced_at_the_store_prices_with_its_rules(db: Database) -> None:
    pricing = StorePricing(db)
    # 2 shirts at 4500 = 9000; 10% -> 900, left 8100; 500 off -> 7600: under 80, Portugal pays shipping.
    priced = pricing.price(
        SHOP, [("shirt-m", 2)], ["welcome10", "SPRING5", "OLD", "nope"], "PT", shipping_option="pt", now=NOW
    )
    assert [(d.code, d.amount) for d in priced.discounts] == [("WELCOME10", 900), ("SPRING5", 500)]
    assert [(r.code, r.reason) for r in priced.rejected] == [("OLD", "inactive"), ("nope", "unknown")]
    assert [(q.id, q.amount) for q in priced.shipping_options] == [("pt", 390), ("eu", 890)]
    assert (priced.subtotal, priced.total) == (9000, 7600 + 390)
    # Without the fixed code the items stay at 8100: shipping to Portugal is free.
    free = pricing.price(SHOP, [("shirt-m", 2)], ["WELCOME10"], "PT", shipping_option="pt", now=NOW)
    assert free.shipping is not None and (free.shipping.amount, free.shipping.free_by) == (0, "free-pt")
    assert free.total == 8100
    us = pricing.price(SHOP, [("umb", 1)], [], "US", now=NOW)
    assert [(q.id, q.amount) for q in us.shipping_options] == [("world", 1990)]


def test_a_store_without_rules_prices_the_items_alone(database_url: str) -> None:
    db = open_database(database_url)
    Catalog(db, HashingEmbedder()).import_store(SHOP, store_data(TestPaymentProvider()))
    priced = StorePricing(db).price(SHOP, [("esp-40", 1)], ["WELCOME10"], "PT", now=NOW)
    assert (priced.total, priced.discounts, priced.shipping_options) == (3000, (), ())
    assert [r.reason for r in priced.rejected] == ["unknown"]


def test_unknown_items_and_stock_are_checked_as_checkout_does(db: Database) -> None:
    with pytest.raises(NotFoundError):
        StorePricing(db).price(SHOP, [("nope", 1)], now=NOW)
    with pytest.raises(ConflictError):
        StorePricing(db).price(SHOP, [("esp-40", 3)], now=NOW)
