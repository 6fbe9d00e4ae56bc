"""Checkout with the store's pricing rules: discount codes and shipping by destination priced into the
order, each line's share of the discounts kept, and what the buyer paid per line used when money goes back
(a return) or moves (an item changed for another variant)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from tests.commerce.conftest import ANN, SHOP, store_data

from ponder.commerce.catalog import Catalog
from ponder.commerce.checkout import Checkout, LineItem
from ponder.commerce.idempotency import IdempotencyKeys
from ponder.commerce.model import Address, DiscountCode, Promotion, ShippingOption, Variant
from ponder.commerce.orders import OrderBook
from ponder.commerce.payments import TestPaymentProvider
from ponder.errors import ConflictError, UserError
from ponder.store import open_database
from ponder.testing import HashingEmbedder

RULES = {
    "discount_codes": (
        DiscountCode("TENOFF", "percentage", 10),
        DiscountCode("FIVE", "fixed_amount", 500, title="5 off"),
        DiscountCode("OLD", "percentage", 50, active=False),
    ),
    "shipping_options": (
        ShippingOption("std", "Standard", 600, service_level="standard"),
        ShippingOption("exp", "Express", 1500, service_level="express"),
        ShippingOption("pt-std", "Portugal standard", 400, ("PT",), "standard"),
    ),
    "promotions": (Promotion("free", "free_shipping", "Free shipping over 100", min_subtotal=10000),),
}
FAR = Address("far", "1 Bay St", "Sydney", "AU")
NOWHERE_STORE = {"shipping_options": (ShippingOption("pt-only", "Portugal only", 400, ("PT",)),)}


def priced_shop(database_url: str, **rules: object) -> tuple[Checkout, TestPaymentProvider, OrderBook]:
    db = open_database(database_url)
    provider = TestPaymentProvider()
    store = dataclasses.replace(store_data(provider), **(rules or RULES))
    Catalog(db, HashingEmbedder()).import_store(SHOP, store)
    checkout = Checkout(db, provider, keys=IdempotencyKeys(db, lease_s=0.5, wait_s=20))
    return checkout, provider, OrderBook(db, provider)


def buy(checkout: Checkout, key: str, *items: LineItem, **options: Any) -> Any:
    """Ann's order of ``items`` (one shirt by default), shipped home and paid with her visa."""
    where = {"address_id": "home"} if "address" not in options else {}
    return checkout.place_order(
        ANN,
        list(items) or [LineItem("shirt-m", 1)],
        payment_method_id="visa",
        idempotency_key=key,
        **where,
        **options,
    )


def test_codes_and_the_destinations_shipping_are_priced_into_the_order_and_charged(database_url) -> None:
    checkout, provider, _ = priced_shop(database_url)
    shirt_and_shoes = (LineItem("shirt-m", 1), LineItem("esp-40", 1))
    order = buy(checkout, "k1", *shirt_and_shoes, codes=["tenoff", "FIVE"])
    # 4500 + 3000; 10% of 7500 = 750, then 500 of what is left; Portugal's own standard option: 400.
    assert order["total"] == 7500 - 750 - 500 + 400
    assert order["shipping"] == 400 and order["shipping_option"] == "pt-std"
    assert [(d["code"], d["amount"]) for d in order["discounts"]] == [("TENOFF", 750), ("FIVE", 500)]
    assert sum(i["discount"] for i in order["items"]) == 1250
    assert provider.charges()[0].amount == order["total"]


def test_a_chosen_option_is_charged_and_a_free_shipping_promotion_applies_over_its_threshold(
    database_url,
) -> None:
    checkout, _, _ = priced_shop(database_url)
    order = buy(checkout, "k1", shipping_option="exp")
    assert order["total"] == 4500 + 1500 and order["shipping_option"] == "exp"
    big = buy(checkout, "k2", LineItem("shirt-m", 3))
    assert big["total"] == 13500 and big["shipping"] == 0  # over 100.00: the promotion's free shipping
    assert any(d["code"] is None and d["title"] for d in big["discounts"])


def test_a_code_that_no_longer_applies_refuses_the_order_and_charges_nothing(database_url) -> None:
    checkout, provider, _ = priced_shop(database_url)
    with pytest.raises(UserError, match="OLD"):
        buy(checkout, "k1", codes=["OLD"])
    assert provider.charges() == []


def test_a_destination_the_store_does_not_ship_to_is_refused(database_url) -> None:
    checkout, provider, _ = priced_shop(database_url, **NOWHERE_STORE)
    with pytest.raises(UserError, match="does not ship to AU"):
        buy(checkout, "k1", address=FAR)
    assert provider.charges() == []
    at_home = checkout.quote(ANN, [LineItem("shirt-m", 1)], address_id="home", payment_method_id="visa")
    assert at_home["total"] == 4900 and at_home["shipping_option"] == "pt-only"


def test_a_store_without_rules_charges_the_items_alone(shop_parts) -> None:
    _, _, checkout = shop_parts
    order = buy(checkout, "k1", LineItem("shirt-m", 2))
    assert order["total"] == 9000 and order["shipping"] == 0 and order["discounts"] == []
    assert [i["discount"] for i in order["items"]] == [0]


def test_the_key_pins_the_codes_and_option_it_was_placed_with(database_url) -> None:
    checkout, provider, _ = priced_shop(database_url)
    first = buy(checkout, "k1", codes=["FIVE"])
    again = buy(checkout, "k1", codes=["FIVE"])
    assert again["id"] == first["id"] and len(provider.charges()) == 1
    with pytest.raises(ConflictError, match="different request"):
        buy(checkout, "k1")


def test_a_return_refunds_what_the_line_cost_after_its_discount_not_its_list_price(database_url) -> None:
    checkout, provider, book = priced_shop(database_url)
    order = buy(checkout, "k1", LineItem("shirt-m", 1), LineItem("esp-40", 1), codes=["TENOFF"])
    book.advance(SHOP, order["id"], "processed")
    book.advance(SHOP, order["id"], "delivered")
    shirt = next(i for i in order["items"] if i["variant_id"] == "shirt-m")
    assert shirt["discount"] == 450
    returned = book.return_items(ANN, order["id"], [shirt["seq"]])
    refunds = [p for p in returned["payments"] if p["kind"] == "refund"]
    assert [r["amount"] for r in refunds] == [4500 - 450]
    assert provider.refunds()[0].amount == 4050


def test_an_item_changed_for_another_variant_keeps_its_discount_and_never_refunds_more_than_paid(
    database_url,
) -> None:
    provider = TestPaymentProvider()
    base = store_data(provider)
    shirt = next(p for p in base.products if p.id == "linen-shirt")
    cheap = Variant("shirt-s", "linen-shirt", {"size": "S"}, 300, stock=5)  # less than the code takes off
    products = tuple(
        dataclasses.replace(p, variants=(*p.variants, cheap)) if p is shirt else p for p in base.products
    )
    db = open_database(database_url)
    Catalog(db, HashingEmbedder()).import_store(SHOP, dataclasses.replace(base, products=products, **RULES))
    checkout, book = Checkout(db, provider), OrderBook(db, provider)
    order = buy(checkout, "k1", codes=["FIVE"])
    assert order["total"] == 4500 - 500 + 400 and order["items"][0]["discount"] == 500
    changed = book.modify_items(ANN, order["id"], [(0, "shirt-s")], "visa")
    [line] = changed["items"]
    assert line["variant_id"] == "shirt-s" and line["discount"] == 300  # capped at what the line now costs
    refunds = [p["amount"] for p in changed["payments"] if p["kind"] == "refund"]
    assert refunds == [4000]  # what the shirt cost after its discount; not 4500 - 300
    assert changed["total"] == 400  # the shipping alone is left
