"""Carrying out plans against a real store (no model): what each intent changes, proposes and says, and
that nothing it names is made up."""

from __future__ import annotations

import re

from ponder.commerce.assistant.execute import Executor
from ponder.commerce.assistant.plan import Plan
from ponder.commerce.assistant.resolve import Resolver
from ponder.commerce.assistant.table import read_table, shown_names
from ponder.commerce.catalog import ProductView
from ponder.commerce.model import Product, Variant
from ponder.commerce.shop import Shop
from ponder.commerce.tools import Proposal, ShoppingTools
from ponder.memory.owner import Owner
from ponder.messages import Message

from ..conftest import ANN, BOB, SHOP


def carry_out(
    shop: Shop, plan: Plan, said: str, history: list[Message] | None = None, owner: Owner = ANN
) -> tuple[str | None, list[Proposal], Executor]:
    proposals: list[Proposal] = []
    tools = ShoppingTools(shop, owner, proposals, session_id="s1")
    executor = Executor(tools, read_table(shop, owner, history or []), said)
    return executor.run(plan), proposals, executor


def cart(shop: Shop, owner: Owner = ANN) -> list[tuple[str, int]]:
    return [(line.variant_id, line.quantity) for line in shop.carts.lines(owner)]


def test_a_search_lists_what_is_in_stock_in_the_size_asked_and_nothing_made_up(shop: Shop) -> None:
    said = "a linen shirt for a wedding, size M, under 50 euros"
    text, _, executor = carry_out(shop, Plan("search", query="linen shirt").from_text(said), said)
    assert text is not None and shown_names([Message.assistant(text)]) == ["Linen shirt"]
    assert "45.00 EUR" in text and "sizes M" in text and "sizes M, L" not in text  # L is sold out
    assert [c.name for c, _ in executor.calls] == ["search_products"]  # the tool, as the model would call it
    for amount in re.findall(r"\d+\.\d\d EUR", text):
        assert amount in ("45.00 EUR", "50.00 EUR")  # a price of the store, or the customer's bound


def test_a_search_for_what_the_store_does_not_sell_says_so(shop: Shop) -> None:
    text, _, _ = carry_out(shop, Plan("answer", product="laptops"), "Do you sell laptops?")
    assert text is not None and "nothing by that name" in text and "laptop" not in text.lower()
    assert set(shown_names([Message.assistant(text)])) <= {"Linen shirt", "Espadrilles", "Beach umbrella"}


def test_the_cheapest_of_the_products_shown_goes_in_the_cart_in_the_size_asked(shop: Shop) -> None:
    shown = Message.assistant("1. **Linen shirt** — 45.00 EUR\n2. **Espadrilles** — 30.00 EUR")
    text, _, _ = carry_out(shop, Plan("add", product="cheapest", size="40"), "the cheapest in 40", [shown])
    assert cart(shop) == [("esp-40", 1)] and text is not None and "**Espadrilles**" in text
    second, _, _ = carry_out(shop, Plan("add", product="1", size="M"), "the first one in M", [shown])
    assert cart(shop) == [("esp-40", 1), ("shirt-m", 1)] and second is not None and "75.00 EUR" in second


def test_a_size_that_is_sold_out_adds_nothing_and_says_what_is_in_stock(shop: Shop) -> None:
    text, _, _ = carry_out(shop, Plan("add", product="linen shirt", size="L"), "linen shirt in L")
    assert cart(shop) == [] and text is not None and "sold out in L" in text and "sizes M" in text


def test_an_item_that_sold_out_since_the_search_is_not_added(shop: Shop) -> None:
    shown = Message.assistant("1. **Espadrilles** — 30.00 EUR; sizes 40")
    with shop.db.transaction() as db:
        from ponder.store.database import sql

        db.execute(sql("UPDATE variants SET stock = 0 WHERE id = 'esp-40'"))
    text, _, _ = carry_out(shop, Plan("add", product="1"), "add them", [shown])
    assert cart(shop) == [] and text is not None and "sold out" in text


def test_checkout_only_proposes_the_cart_to_the_customer(shop: Shop) -> None:
    shop.carts.add(ANN, "shirt-m", 1)
    text, proposals, _ = carry_out(shop, Plan("checkout", payment="gift card"), "check out with my gift card")
    [proposal] = proposals
    assert proposal.action.kind == "place_order" and proposal.action.amount == 4500
    assert proposal.action.status == "pending" and proposal.action.arguments["payment_method_id"] == "gift"
    assert text is not None and proposal.token not in text and "confirm" in text
    assert shop.orders.list_orders(ANN)[0]["id"] == "#W1"  # nothing ordered


def test_buying_a_product_named_puts_it_in_the_cart_and_proposes_the_order(shop: Shop) -> None:
    _, proposals, _ = carry_out(shop, Plan("checkout", product="beach umbrella"), "buy the beach umbrella")
    [proposal] = proposals
    assert cart(shop) == [("umb", 1)] and proposal.action.amount == 2500


def test_a_return_names_the_item_of_the_delivered_order(shop: Shop) -> None:
    text, proposals, _ = carry_out(
        shop, Plan("return", order="last", items="the espadrilles"), "return the espadrilles, too small"
    )
    [proposal] = proposals
    assert proposal.action.kind == "return_items" and proposal.action.target == "#W1"
    assert proposal.action.amount == 3000 and text is not None and "#W1" in text


def test_an_order_that_is_not_the_customers_is_not_found(shop: Shop) -> None:
    for said in ("cancel order W1", "what is the status of #W9?"):
        text, proposals, _ = carry_out(shop, Plan("cancel", order="#W1"), said, owner=BOB)
        assert proposals == [] and text is not None and "can't find" in text
    text, proposals, _ = carry_out(shop, Plan("orders", order="#W9"), "status of order #W9?")
    assert proposals == [] and text is not None and "can't find an order W9" in text


def test_an_order_that_cannot_be_cancelled_any_more_is_explained(shop: Shop) -> None:
    text, proposals, _ = carry_out(shop, Plan("cancel", order="#W1"), "cancel #W1")
    assert proposals == [] and text is not None and "delivered" in text  # the store's own reason
    text, proposals, _ = carry_out(shop, Plan("cancel"), "cancel my order")
    assert proposals == [] and text is not None and "no pending order" in text


def test_an_exchange_asks_for_the_size_when_none_was_given(shop: Shop) -> None:
    text, proposals, _ = carry_out(shop, Plan("exchange", items="linen shirt"), "swap the linen shirt")
    assert proposals == [] and text is not None and "Which size" in text


def test_an_address_the_customer_did_not_write_is_never_used(shop: Shop) -> None:
    shop.carts.add(ANN, "umb", 1)
    done = shop.actions.confirm(ANN, *_proposed_order(shop))
    order_id = done.result["id"] if done.result else ""
    plan = Plan("change_address", order=order_id, address="12 Made Up Street, Springfield, IL 62701")
    text, proposals, _ = carry_out(shop, plan, "ship my order somewhere else")
    assert proposals == [] and text is not None and "Where should" in text
    written = "send it to 7 Quay Lane, Lisbon, 1100"
    text, proposals, _ = carry_out(shop, Plan("change_address", address="7 Quay Lane, Lisbon, 1100"), written)
    [proposal] = proposals
    assert proposal.action.kind == "change_address" and "7 Quay Lane" in proposal.action.summary


def test_a_new_address_written_with_its_state_and_zip_after_the_city_is_read_as_fields(shop: Shop) -> None:
    shop.carts.add(ANN, "umb", 1)
    shop.actions.confirm(ANN, *_proposed_order(shop))
    written = "please deliver my order to 9 Birch Road, Bangor ME 04401"
    _, proposals, _ = carry_out(shop, Plan("change_address"), written)
    [proposal] = proposals
    address = proposal.action.arguments["address"]
    assert (address["line1"], address["city"], address["state"], address["zip"]) == (
        "9 Birch Road",
        "Bangor",
        "ME",
        "04401",
    )


def test_a_person_is_asked_to_take_over_with_the_conversation(shop: Shop) -> None:
    text, _, _ = carry_out(shop, Plan("person", reason="refund"), "I want a human")
    [ticket] = shop.support.list_tickets("shop")
    assert ticket.user == "ann" and ticket.session_id == "s1" and text is not None and str(ticket.id) in text


def test_a_plan_for_words_only_leaves_the_reply_to_the_mode(shop: Shop) -> None:
    text, proposals, executor = carry_out(shop, Plan("answer"), "how long do returns take?")
    assert text is None and proposals == [] and executor.calls == []


def _proposed_order(shop: Shop) -> tuple[str, str]:
    action, token = shop.actions.propose_checkout(ANN, address_id="home", payment_method_id="visa")
    return action.id, token


def test_options_are_read_from_the_customers_words_and_a_sold_out_one_is_not_replaced(shop: Shop) -> None:
    shown = Message.assistant("1. **Linen shirt** — 45.00 EUR; sizes M")
    text, _, _ = carry_out(shop, Plan("add", product="1").from_text("in L please"), "in L please", [shown])
    assert cart(shop) == [] and text is not None and "sold out in L" in text  # not another size instead


def test_a_bigger_size_of_an_ordered_item_is_the_next_size_up(shop: Shop) -> None:
    with shop.db.transaction() as db:
        from ponder.store.database import sql

        db.execute(sql("UPDATE variants SET stock = 3 WHERE id = 'shirt-l'"))
    plan = Plan("exchange", items="linen shirt")
    _, proposals, _ = carry_out(shop, plan, "the linen shirt is too small, I need the bigger size")
    [proposal] = proposals
    assert proposal.action.kind == "exchange_items" and "size L" in proposal.action.summary


def test_an_order_is_found_by_the_items_the_customer_names(shop: Shop) -> None:
    text, _, _ = carry_out(shop, Plan("orders"), "where are the espadrilles I ordered?")
    assert text is not None and text.startswith("Order #W1: delivered")


def test_recommendations_for_someone_else_are_not_picked_by_the_customers_own_interests(shop: Shop) -> None:
    for said, gift in (("a gift for my brother who surfs", True), ("something for me to wear", False)):
        _, _, executor = carry_out(shop, Plan("recommend", query="surf"), said)
        [(call, _)] = executor.calls
        assert call.name == "recommend_products" and call.arguments["for_someone_else"] is gift


def test_a_search_reads_the_words_of_a_products_category_too(shop: Shop) -> None:
    text, _, _ = carry_out(shop, Plan("search", query="tops"), "any tops for summer?")
    assert text is not None and shown_names([Message.assistant(text)]) == ["Linen shirt"]
    assert shop.catalog.category_names(SHOP) == {
        "clothing": "Clothing",
        "shirts": "Clothing: Shirts & Tops",
        "shoes": "Clothing: Shoes",
    }


def test_an_option_written_a_message_earlier_still_counts_beside_one_written_now(shop: Shop) -> None:
    slipper = ProductView(
        Product(
            "slipper",
            "Wool slipper",
            tuple(
                Variant(f"s-{size}-{color}", "slipper", {"size": size, "color": color}, 5000, stock=3)
                for size in ("40", "41")
                for color in ("oat", "grey")
            ),
        )
    )
    find = Resolver(
        shop, ANN, read_table(shop, ANN, []), "the oat ones, I'll take those", ["slippers, EU 41"]
    )
    assert find.wanted(slipper, Plan("add", product="1")) == {"color": "oat", "size": "41"}


def priced(shop: Shop) -> None:
    """The store with codes and shipping options (tests/commerce/test_checkout_pricing.py's rules)."""
    from tests.commerce.test_checkout_pricing import RULES

    from ponder.commerce.model import StoreData
    from ponder.commerce.store_pricing import write_pricing_rules

    with shop.db.transaction() as db:
        write_pricing_rules(db, SHOP, StoreData("Coast", "EUR", (), **RULES))  # type: ignore[arg-type]


def test_checkout_takes_the_code_and_the_shipping_the_customer_wrote(shop: Shop) -> None:
    priced(shop)
    shop.carts.add(ANN, "shirt-m", 1)
    said = "check out with code TENOFF and express shipping"
    text, [proposal], executor = carry_out(shop, Plan("checkout"), said)
    arguments = proposal.action.arguments
    assert arguments["codes"] == ["TENOFF"] and arguments["shipping_option"] == "exp"
    assert proposal.action.amount == 4500 - 450 + 1500  # what the person confirms
    assert text is not None and "TENOFF" in text and "Express" in text
    [call] = [c for c, _ in executor.calls if c.name == "checkout"]
    assert call.arguments["discount_codes"] == ["TENOFF"]  # as the model would call the tool


def test_checkout_without_a_choice_ships_the_cheapest_way_and_a_bad_code_is_refused(shop: Shop) -> None:
    priced(shop)
    shop.carts.add(ANN, "shirt-m", 1)
    _, [proposal], _ = carry_out(shop, Plan("checkout"), "check out please")
    assert proposal.action.arguments["shipping_option"] == "pt-std" and proposal.action.amount == 4500 + 400
    text, refused, _ = carry_out(shop, Plan("checkout"), "check out, coupon NOPE42")
    assert refused == [] and text is not None and "NOPE42" in text  # the store says why: nothing proposed
