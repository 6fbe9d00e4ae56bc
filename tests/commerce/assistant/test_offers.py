"""Discount codes and a shipping choice read from what the customer wrote, against the store's own."""

from __future__ import annotations

from ponder.commerce.assistant.offers import codes_in, shipping_in
from ponder.commerce.model import DiscountCode
from ponder.commerce.pricing import MAX_CODES, PricingRules, ShippingQuote

RULES = PricingRules(
    discount_codes=(DiscountCode("SPRING10", "percentage", 10), DiscountCode("SUMMER", "percentage", 5))
)
OPEN = (
    ShippingQuote("pt-std", "Portugal standard", 400, 400),
    ShippingQuote("exp", "Express (2 days)", 1500, 1500),
)


def test_a_stores_code_is_found_as_the_store_spells_it_in_any_message() -> None:
    assert codes_in(["I have SPRING10 somewhere", "check out please"], RULES) == ["SPRING10"]
    assert codes_in(["a summer dress, then check out"], RULES) == []  # a word, not the code


def test_a_code_like_word_after_code_or_coupon_is_given_even_if_the_store_has_none() -> None:
    assert codes_in(["check out with code welcome5"], RULES) == ["welcome5"]
    assert codes_in(["coupon: BOGUS and promo code spring10"], RULES) == ["BOGUS", "spring10"]
    assert codes_in(["do you have a discount code for me?", "any coupon today"], RULES) == []


def test_codes_keep_their_order_each_once_and_at_most_the_bound() -> None:
    said = "use SUMMER then code SPRING10, and again summer"
    assert codes_in([said, "code SUMMER"], RULES) == ["SUMMER", "SPRING10"]
    many = " ".join(f"code X{i}Y" for i in range(MAX_CODES + 3))
    assert len(codes_in([many], RULES)) == MAX_CODES


def test_the_shipping_named_is_chosen_among_the_options_open_to_the_address() -> None:
    assert shipping_in("express shipping please", OPEN) == "exp"
    assert shipping_in("ship it with pt-std", OPEN) == "pt-std"
    assert shipping_in("standard is fine", OPEN) is None  # no option's id or first word
    assert shipping_in("portugal standard", OPEN) == "pt-std"
    assert shipping_in("check out", OPEN) is None
