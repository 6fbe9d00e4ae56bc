"""The plan of a shopping turn: parsed from the model's JSON, then checked against the customer's words."""

from __future__ import annotations

import pytest

from ponder.commerce.assistant.plan import INTENTS, PLAN_SCHEMA, Plan, parse_plan


def test_the_schema_offers_every_intent_and_requires_only_the_intent() -> None:
    assert PLAN_SCHEMA["properties"]["intent"]["enum"] == list(INTENTS)
    assert PLAN_SCHEMA["required"] == ["intent"] and PLAN_SCHEMA["additionalProperties"] is False


def test_a_plan_keeps_its_slots_and_drops_mistyped_ones() -> None:
    plan = parse_plan('{"intent": "add", "product": " 2 ", "quantity": 3, "max_price": "cheap", "size": 7}')
    assert plan == Plan("add", product="2", quantity=3)
    assert plan.to_dict() == {"intent": "add", "product": "2", "quantity": 3}


@pytest.mark.parametrize("text", ["", "{}", '{"intent": "buy"}', "[1]", "Sure! Here is the plan"])
def test_what_is_not_a_plan_is_an_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_plan(text)


def test_prices_and_a_size_written_plainly_are_taken_over_the_models() -> None:
    said = "Do you have a linen shirt in size M for under 100 dollars?"
    plan = Plan("search", query="linen shirt", max_price=10.0).from_text(said)
    assert plan.max_price == 100.0 and plan.size == "M"
    assert Plan("search").from_text("boots over $80, size 42").to_dict() == {
        "intent": "search",
        "size": "42",
        "min_price": 80.0,
    }
    assert Plan("add").from_text("I'd like it in a medium").size == "M"


def test_slots_the_customer_never_wrote_are_dropped() -> None:
    guessed = Plan("exchange", size="M", color="red", max_price=50.0)
    assert guessed.from_text("Can I swap something from my order for a different size?") == Plan("exchange")
    assert Plan("recommend", size="N/A").from_text("Ideas for a gift?").size == ""


def test_what_the_customer_wrote_earlier_grounds_a_slot() -> None:
    plan = Plan("add", product="2", size="L", color="navy blue")
    assert plan.from_text("the navy blue one please", before="I wear a large") == plan
    # a price bound of a search is read from the message itself; an earlier amount grounds the model's
    assert Plan("search", max_price=60.0).from_text("and in wool?", before="under 60").max_price == 60.0


def test_a_price_range_a_size_word_and_a_price_read_as_a_colour() -> None:
    plan = Plan("search", query="tents", color="between 200$").from_text("tents between 200 and 300 dollars?")
    assert plan == Plan("search", query="tents", min_price=200.0, max_price=300.0)
    assert Plan("update_cart", color="large").from_text("make it a large instead").size == "L"
    assert Plan("search", size="sea glass").from_text("the speaker in sea glass").color == "sea glass"


def test_a_size_word_counts_only_as_a_size() -> None:
    for said in ("is the tote small enough for a plane?", "this brand runs small", "a large pan for paella"):
        for size in ("S", "small", "L", "large"):
            assert Plan("search", query="tote", size=size).from_text(said).size == "", (said, size)
    assert Plan("add", size="M").from_text("a medium, please").size == "M"
    assert Plan("add", size="L").from_text("large or extra large would do").size == "L"


def test_a_size_read_as_a_colour_is_a_size() -> None:
    plan = Plan("search", query="slippers", color="EU 41").from_text("felt slippers, EU 41")
    assert (plan.size, plan.color) == ("41", "")
