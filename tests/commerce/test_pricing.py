"""price_cart: codes in order, each rounded down on what is left, codes not applied with why, never below
zero, allocations that add up, shipping by country with a rest-of-world default, and free shipping."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ponder.commerce.model import DiscountCode, Promotion, ShippingOption
from ponder.commerce.pricing import (
    SHIPPING,
    Allocation,
    PriceLine,
    PricingRules,
    price_cart,
    ucp_error_code,
)
from ponder.errors import UserError

NOW = 1_800_000_000.0

CODES = (
    DiscountCode("TEN", "percentage", 10, title="10% off"),
    DiscountCode("FIVE", "fixed_amount", 500),
    DiscountCode("FIFTEEN", "percentage", 15),
    DiscountCode("BIG", "fixed_amount", 1_000_000),
    DiscountCode("OLD", "percentage", 50, expires_at=NOW),
    DiscountCode("OFF", "percentage", 50, active=False),
    DiscountCode("MIN", "fixed_amount", 300, min_subtotal=10_000),
)
RULES = PricingRules(discount_codes=CODES)


def test_codes_apply_in_order_each_rounded_down_on_what_is_left() -> None:
    lines = [PriceLine("a", 1999, 3), PriceLine("b", 1001)]  # 6998
    priced = price_cart(lines, ["TEN", "FIVE", "FIFTEEN"], None, RULES, now=NOW)
    # 10% of 6998 = 699.8 -> 699, left 6299; 500 off -> 5799; 15% of 5799 = 869.85 -> 869, left 4930.
    assert [(d.code, d.amount) for d in priced.discounts] == [("TEN", 699), ("FIVE", 500), ("FIFTEEN", 869)]
    assert (priced.subtotal, priced.items_discount, priced.total) == (6998, 2068, 4930)
    assert priced.rejected == ()
    for d in priced.discounts:
        assert sum(a.amount for a in d.allocations) == d.amount


def test_the_order_given_changes_the_result() -> None:
    lines = [PriceLine("a", 6998)]
    first = price_cart(lines, ["FIFTEEN", "FIVE", "TEN"], None, RULES, now=NOW)
    # 15% of 6998 = 1049.7 -> 1049, left 5949; 500 -> 5449; 10% = 544.9 -> 544, left 4905.
    assert [d.amount for d in first.discounts] == [1049, 500, 544]
    assert first.total == 4905


def test_codes_are_matched_case_insensitively_and_reported_as_the_store_spells_them() -> None:
    priced = price_cart([PriceLine("a", 1000)], [" ten "], None, RULES, now=NOW)
    assert [(d.code, d.title, d.amount) for d in priced.discounts] == [("TEN", "10% off", 100)]


def test_codes_not_applied_are_reported_with_why() -> None:
    lines = [PriceLine("a", 5000)]
    priced = price_cart(lines, ["NOPE", "OLD", "OFF", "MIN", "TEN", "ten"], None, RULES, now=NOW)
    assert [(r.code, r.reason) for r in priced.rejected] == [
        ("NOPE", "unknown"),
        ("OLD", "expired"),
        ("OFF", "inactive"),
        ("MIN", "below_minimum"),
        ("ten", "already_applied"),
    ]
    assert [ucp_error_code(r.reason) for r in priced.rejected] == [
        "discount_code_invalid",
        "discount_code_expired",
        "discount_code_invalid",
        "discount_code_user_ineligible",
        "discount_code_already_applied",
    ]
    assert all(r.message for r in priced.rejected)
    assert [(d.code, d.amount) for d in priced.discounts] == [("TEN", 500)]
    assert priced.total == 4500


def test_a_code_before_its_expiry_and_over_its_minimum_applies() -> None:
    lines = [PriceLine("a", 10_000)]
    priced = price_cart(lines, ["OLD", "MIN"], None, RULES, now=NOW - 1)
    assert [(d.code, d.amount) for d in priced.discounts] == [("OLD", 5000), ("MIN", 300)]


def test_never_below_zero() -> None:
    priced = price_cart([PriceLine("a", 700)], ["FIVE", "BIG", "TEN"], None, RULES, now=NOW)
    assert [d.amount for d in priced.discounts] == [500, 200, 0]
    assert (priced.items_discount, priced.total) == (700, 0)


def test_an_amount_is_allocated_across_lines_in_proportion_adding_up() -> None:
    lines = [PriceLine("a", 6000), PriceLine("b", 4000)]
    priced = price_cart(lines, ["FIVE"], None, RULES, now=NOW)
    assert priced.discounts[0].allocations == (Allocation(0, 300), Allocation(1, 200))
    odd = price_cart(
        [PriceLine("a", 1), PriceLine("b", 1), PriceLine("c", 1)], ["FIVE"], None, RULES, now=NOW
    )
    assert odd.discounts[0].amount == 3
    three = price_cart(
        [PriceLine("a", 333), PriceLine("b", 333), PriceLine("c", 334)], ["TEN"], None, RULES, now=NOW
    )
    assert sum(a.amount for a in three.discounts[0].allocations) == three.discounts[0].amount == 100


def test_no_rules_changes_nothing() -> None:
    priced = price_cart([PriceLine("a", 1234, 2)], [], "FR", PricingRules(), now=NOW)
    assert (priced.subtotal, priced.total, priced.discounts, priced.shipping_options) == (2468, 2468, (), ())


SHIPPING_RULES = PricingRules(
    shipping_options=(
        ShippingOption("eu-standard", "EU standard", 490, ("FR", "DE", "ES")),
        ShippingOption("eu-express", "EU express", 1290, ("FR", "DE")),
        ShippingOption("world", "Worldwide", 1990),
    ),
    promotions=(Promotion("free-eu", "free_shipping", "Free EU shipping over 50", 5000, ("eu-standard",)),),
    discount_codes=CODES,
)


def test_rates_by_country_with_a_rest_of_world_default() -> None:
    fr = price_cart([PriceLine("a", 1000)], [], "fr", SHIPPING_RULES, now=NOW)
    assert [(q.id, q.amount) for q in fr.shipping_options] == [("eu-standard", 490), ("eu-express", 1290)]
    es = price_cart([PriceLine("a", 1000)], [], "ES", SHIPPING_RULES, now=NOW)
    assert [q.id for q in es.shipping_options] == ["eu-standard"]
    us = price_cart([PriceLine("a", 1000)], [], "US", SHIPPING_RULES, now=NOW, shipping_option="world")
    assert [(q.id, q.amount) for q in us.shipping_options] == [("world", 1990)]
    assert us.total == 1000 + 1990 and us.shipping is not None and us.shipping.id == "world"


def test_free_shipping_over_a_threshold_after_discounts() -> None:
    at = price_cart([PriceLine("a", 5000)], [], "FR", SHIPPING_RULES, now=NOW, shipping_option="eu-standard")
    assert [(q.id, q.amount, q.free_by) for q in at.shipping_options] == [
        ("eu-standard", 0, "free-eu"),
        ("eu-express", 1290, None),
    ]
    assert at.total == 5000
    (automatic,) = at.discounts
    assert (automatic.code, automatic.automatic, automatic.amount) == (None, True, 490)
    assert automatic.allocations == (Allocation(SHIPPING, 490),)
    # A code takes the items under the threshold: shipping is paid again.
    under = price_cart(
        [PriceLine("a", 5000)], ["TEN"], "FR", SHIPPING_RULES, now=NOW, shipping_option="eu-standard"
    )
    assert under.shipping is not None and under.shipping.amount == 490
    assert under.total == 4500 + 490
    assert [d.code for d in under.discounts] == ["TEN"]


def test_an_option_that_does_not_ship_there_is_refused() -> None:
    with pytest.raises(UserError, match="does not ship"):
        price_cart([PriceLine("a", 1000)], [], "US", SHIPPING_RULES, now=NOW, shipping_option="eu-standard")
    with pytest.raises(UserError, match="does not ship"):
        price_cart([PriceLine("a", 1000)], [], None, SHIPPING_RULES, now=NOW, shipping_option="world")


def test_a_countrys_option_replaces_the_rest_of_worlds_of_its_service_level_only() -> None:
    rules = PricingRules(
        shipping_options=(
            ShippingOption("std", "Standard", 500, service_level="standard"),
            ShippingOption("exp-us", "Express (US)", 1500, ("US",), service_level="express"),
            ShippingOption("exp-intl", "International express", 2500, service_level="express"),
        )
    )
    us = price_cart([PriceLine("a", 1000)], [], "US", rules, now=NOW)
    assert [q.id for q in us.shipping_options] == ["std", "exp-us"]
    fr = price_cart([PriceLine("a", 1000)], [], "FR", rules, now=NOW)
    assert [q.id for q in fr.shipping_options] == ["std", "exp-intl"]


def test_a_promotion_limited_to_some_items_frees_shipping_for_carts_holding_one_of_them() -> None:
    rules = PricingRules(
        shipping_options=(ShippingOption("std", "Standard", 500),),
        promotions=(Promotion("roses", "free_shipping", "Roses ship free", items=("roses",)),),
    )
    with_roses = [PriceLine("tulip-red", 1000, 1, "tulips"), PriceLine("rose-12", 3500, 1, "roses")]
    [quote] = price_cart(with_roses, [], "US", rules, now=0, shipping_option="std").shipping_options
    assert (quote.amount, quote.free_by, quote.free_title) == (0, "roses", "Roses ship free")
    by_variant = replace(rules, promotions=(replace(rules.promotions[0], items=("tulip-red",)),))
    assert price_cart(with_roses, [], "US", by_variant, now=0).shipping_options[0].amount == 0
    without = [PriceLine("tulip-red", 1000, 1, "tulips")]
    assert price_cart(without, [], "US", rules, now=0).shipping_options[0].amount == 500
