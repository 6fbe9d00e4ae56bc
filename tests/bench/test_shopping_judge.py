"""The shopping conversation benchmark's judge (bench/_shopping_judge.py) and state reading
(bench/_shopping_state.py), without a model: a small store in a real database, replies given as strings.

The bench modules are scripts beside each other in bench/ (they import one another by their bare names), so
bench/ goes on sys.path here, as running ``python bench/shopping_conversations.py`` puts it there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _shopping_judge import (
    StoreReader,
    TurnSeen,
    allowed_amounts,
    amounts_in,
    breaks_bounds,
    check_actions,
    check_cart,
    check_reply,
    invented,
    judge,
    satisfies,
)
from _shopping_state import (
    StoreFacts,
    account_changes,
    prepare_customer,
    set_stock,
    snapshot,
    store_facts,
)
from ponder.commerce.model import (
    Address,
    Category,
    Customer,
    Order,
    OrderItem,
    PaymentMethod,
    PaymentRecord,
    Product,
    StoreData,
    Variant,
)
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.memory.owner import Owner
from ponder.store import open_database
from ponder.testing import HashingEmbedder

SHOP = "bench"
HOME = Address("home", "1 Sea Road", "Porto", "PT", zip="4000")
WORK = Address("work", "9 Dock Street", "Porto", "PT", zip="4001")


def store_data(provider: TestPaymentProvider) -> StoreData:
    visa = provider.tokenize("4242 4242 4242 4242")[0]
    shirt = "riviera-linen-shirt"
    return StoreData(
        name="Coast",
        currency="USD",
        categories=(Category("clothing", "Clothing"), Category("shirts", "Shirts", "clothing")),
        products=(
            Product(
                shirt,
                "Riviera Linen Shirt",
                (
                    Variant(f"{shirt}-m", shirt, {"size": "M", "color": "white"}, 6800, stock=5),
                    Variant(f"{shirt}-l", shirt, {"size": "L", "color": "white"}, 6800, stock=0),
                ),
                category="shirts",
                description="A light linen shirt.",
            ),
            Product(
                "costa-espadrilles",
                "Costa Espadrilles",
                (Variant("costa-espadrilles-40", "costa-espadrilles", {"size": "40"}, 3000, stock=2),),
                category="clothing",
            ),
            Product(
                "beach-umbrella", "Beach Umbrella", (Variant("beach-umbrella-1", "beach-umbrella", {}, 2550),)
            ),
        ),
        customers=(
            Customer(
                "ann", "Ann", addresses=(HOME, WORK), payment_methods=(PaymentMethod("visa", "card", visa),)
            ),
            Customer("bob", "Bob", addresses=(HOME,), payment_methods=(PaymentMethod("visa", "card", visa),)),
        ),
        orders=(
            Order(
                "HP-1001",
                "ann",
                "delivered",
                (
                    OrderItem(f"{shirt}-m", shirt, "Riviera Linen Shirt", {"size": "M"}, 6800),
                    OrderItem("costa-espadrilles-40", "costa-espadrilles", "Costa Espadrilles", {}, 3000),
                ),
                HOME,
                (PaymentRecord("charge", 9800, "visa"),),
            ),
            Order(
                "HP-1002",
                "ann",
                "pending",
                (OrderItem("beach-umbrella-1", "beach-umbrella", "Beach Umbrella", {}, 2550, quantity=2),),
                HOME,
                (PaymentRecord("charge", 5100, "visa"),),
            ),
            Order(
                "HP-1003",
                "bob",
                "processed",
                (OrderItem("costa-espadrilles-40", "costa-espadrilles", "Costa Espadrilles", {}, 3000),),
                HOME,
                (PaymentRecord("charge", 3000, "visa"),),
            ),
        ),
    )


@pytest.fixture
def shop(database_url: str) -> Shop:
    shop = Shop(open_database(database_url), HashingEmbedder(), TestPaymentProvider())
    shop.catalog.import_store(SHOP, store_data(shop.provider))
    return shop


@pytest.fixture
def facts(shop: Shop) -> StoreFacts:
    return store_facts(shop.db, SHOP)


# --- reading replies -------------------------------------------------------------------------------------


def test_amounts_are_read_in_every_way_a_price_is_written_and_units_are_not_money() -> None:
    text = (
        "It is $68 or 68.00 USD (USD 68.5), 30 dollars off, total $1,299.00; the refund is 25.50. "
        "A 1.7 L kettle, 4.50 stars, 2.25 kg, 30 days."
    )
    assert amounts_in(text) == [6800, 6800, 6850, 3000, 129900, 2550]


def test_names_of_the_store_are_found_and_invented_ones_counted(facts: StoreFacts) -> None:
    reader = StoreReader(facts)
    seen = reader.read(
        "The **Riviera Linen Shirt** is lovely. You might also like our Coastal Breeze Linen Shirt."
    )
    assert seen.products == ["riviera-linen-shirt"]
    assert seen.invented_names == ["Coastal Breeze Linen Shirt"]
    # a name's start, when no other name starts so, names the product too
    assert reader.read("The Riviera Linen is nice.").products == ["riviera-linen-shirt"]
    assert reader.read("Riviera is nice.").products == []
    # in bold, or a Title Case run that ends in lower case on a product word, as small models write them
    seen = reader.read("1. **Halo 43 Waterproof linen shirt**\n2. Our Halo Breeze linen shirts, $68.")
    assert seen.invented_names == ["Halo 43 Waterproof linen shirt", "Halo Breeze linen shirts"]
    # a part of a real name, at the start of a sentence or after "The", is no invention
    assert reader.read("Linen Shirt: yes. The Linen Shirts we have are light.").invented_names == []
    # a real name of three words or more, after words that are no part of it (a currency, an arrow)
    assert reader.read("1 × Shirt at 68.00 USD Riviera Linen Shirt, 68.00 USD").invented_names == []
    assert reader.read("It costs 68.00 USD for the shirt only.").invented_names == []  # a currency
    assert reader.read("It costs 68.00 USD Breeze Linen Shirt.").invented_names == ["Breeze Linen Shirt"]


def test_ids_and_order_ids_are_read_and_those_not_real_or_not_theirs_are_invented(facts: StoreFacts) -> None:
    reader = StoreReader(facts)
    seen = reader.read(
        "Added riviera-linen-shirt-m (not riviera-linen-shirt-xl). Orders: HP-1001, hp-1003 and HP-2000. "
        "A state-of-the-art fabric."
    )
    assert seen.ids == ["riviera-linen-shirt-m"]
    assert seen.unknown_ids == ["riviera-linen-shirt-xl"]
    assert seen.order_ids == ["HP-1001", "HP-1003", "HP-2000"]
    found = invented(seen, facts, "ann", {0}, said="")
    assert found.ids == ["HP-1003 (another customer's)", "HP-2000", "riviera-linen-shirt-xl"]
    # nor are the customer's saved addresses and payment methods (ids of another customer's are)
    facts.saved["ann"] |= {"card-ann-4242"}
    facts.saved["bob"] = {"card-bob-1111"}
    named = reader.read("Pay with card-ann-4242 or card-bob-1111?")
    assert invented(named, facts, "ann", {0}, said="").ids == ["card-bob-1111"]
    # the customer's own words, said back, are not inventions
    assert invented(seen, facts, "ann", {0}, said="where is hp-2000 and HP-1003?").ids == [
        "riviera-linen-shirt-xl"
    ]


def test_the_amounts_a_reply_may_state_come_from_the_context(facts: StoreFacts) -> None:
    allowed = allowed_amounts(
        facts,
        "ann",
        carts=[[("riviera-linen-shirt-m", 2), ("beach-umbrella-1", 1)]],
        actions=[{"kind": "cancel_order", "target": "HP-1002", "amount": 5100, "arguments": {}}],
        said=["anything under 100 dollars?"],
    )
    assert {6800, 13600, 9800, 5100, 2550, 16150, 10000, 0} <= allowed  # price, x2, order, line, cart, said
    seen = StoreReader(facts).read("That's $161.50 in your cart, shipping is $4.99.")
    assert invented(seen, facts, "ann", allowed, said="").prices == [499]


# --- the checks ------------------------------------------------------------------------------------------


def test_constraints_pick_products_from_the_store(facts: StoreFacts) -> None:
    shirt = facts.products["riviera-linen-shirt"]
    assert satisfies(shirt, facts, {"category": "clothing", "text": ["linen"], "size": "M", "max_price": 100})
    assert not satisfies(shirt, facts, {"size": "L"})  # L is out of stock
    assert not satisfies(shirt, facts, {"max_price": 50})
    assert not satisfies(facts.products["beach-umbrella"], facts, {"category": "clothing"})
    assert breaks_bounds(shirt, {"max_price": 50})
    assert breaks_bounds(shirt, {"size": "L"})
    assert not breaks_bounds(shirt, {"size": "M", "max_price": 68})
    assert not breaks_bounds(facts.products["beach-umbrella"], {"size": "L"})  # it has no sizes


def test_reply_checks(facts: StoreFacts) -> None:
    reader = StoreReader(facts)

    def fails(spec: dict, text: str, user: str = "ann") -> list[str]:
        return check_reply(spec, text, reader.read(text), facts, user)

    wanted = {"names_matching": {"text": ["linen"], "size": "M"}, "within_bounds": {"max_price": 70}}
    assert fails(wanted, "The Riviera Linen Shirt in M is 68.00.") == []
    assert len(fails(wanted, "We have the Costa Espadrilles.")) == 1
    assert len(fails({"within_bounds": {"max_price": 50}}, "The Riviera Linen Shirt?")) == 1
    assert fails({"states_status": "HP-1002"}, "HP-1002 hasn't shipped yet.") == []
    assert len(fails({"states_status": "HP-1001"}, "HP-1001 is on its way.")) == 1
    assert fails({"no_leak": ["HP-1003"]}, "I can't find HP-1003 among your orders.", "ann") == []
    assert len(fails({"no_leak": ["HP-1003"]}, "HP-1003 holds Costa Espadrilles at $30.")) == 1
    assert len(fails({"names_matching": {"size": "XXL"}}, "anything")) == 1  # a check no product meets


def test_cart_check(facts: StoreFacts) -> None:
    start = [("riviera-linen-shirt-m", 1)]
    assert check_cart(None, start, start, facts) == []
    assert check_cart(None, start, [], facts) != []
    spec = [{"product": ["riviera-linen-shirt", "x"], "options": {"size": "M"}, "quantity": 2}]
    assert check_cart(spec, [], [("riviera-linen-shirt-m", 2)], facts) == []
    assert check_cart(spec, [], [("riviera-linen-shirt-m", 1)], facts) != []
    assert check_cart(spec, [], [("riviera-linen-shirt-m", 2), ("beach-umbrella-1", 1)], facts) != []
    assert check_cart([{"variant": "beach-umbrella-1"}], [], [("beach-umbrella-1", 1)], facts) == []


def test_action_check(facts: StoreFacts) -> None:  # items by their "seq" in the order, from 0
    ret = {"kind": "return_items", "target": "HP-1001", "amount": 3000, "arguments": {"items": [1]}}
    spec = {"kind": "return_items", "target": "HP-1001", "items": ["costa-espadrilles-40"], "amount": 3000}
    assert check_actions([spec], [], [ret], facts) == []
    assert check_actions([spec | {"items": ["riviera-linen-shirt-m"]}], [], [ret], facts) != []
    assert check_actions([], [], [ret], facts) != []  # proposed, not asked for
    assert check_actions([], ["return_items"], [ret], facts) == []  # allowed
    swap = {
        "kind": "modify_items",
        "target": "HP-1001",
        "amount": 0,
        "arguments": {"items": [[0, "riviera-linen-shirt-l"]]},
    }
    wanted = {"kind": "modify_items", "swaps": [["riviera-linen-shirt-m", {"size": "L"}]]}
    assert check_actions([wanted], [], [swap], facts) == []
    assert (
        check_actions([wanted | {"swaps": [["riviera-linen-shirt-m", {"size": "S"}]]}], [], [swap], facts)
        != []
    )


# --- state and a whole conversation ----------------------------------------------------------------------


def test_a_proposal_passes_and_a_confirmed_action_counts_as_done_without_the_person(shop: Shop) -> None:
    ann = Owner(SHOP, "ann")
    prepare_customer(shop.db, SHOP, "ann", [("beach-umbrella-1", 1)])
    before = snapshot(shop.db, SHOP, "ann")
    action, token = shop.actions.propose_cancel(ann, "HP-1002", "changed my mind")
    after = snapshot(shop.db, SHOP, "ann")
    new = [a for i, a in after.actions.items() if i not in before.actions]
    conversation = {
        "customer": "ann",
        "checks": {"actions": [{"kind": "cancel_order", "target": "HP-1002", "amount": 5100}]},
    }
    turns = [TurnSeen("cancel HP-1002", f"I can cancel HP-1002: 51.00 goes back to your card ({action.id}).")]
    facts = store_facts(shop.db, SHOP)
    verdict = judge(
        conversation, facts, turns, before.cart, after.cart, new, [], account_changes(before, after)
    )
    assert verdict.passed, verdict.failures
    assert before.cart == [("beach-umbrella-1", 1)]

    shop.actions.confirm(ann, action.id, token)  # the person's token: the bench never does this
    changed = account_changes(before, snapshot(shop.db, SHOP, "ann"))
    assert any("confirmed or carried out" in c for c in changed)
    verdict = judge(conversation, facts, turns, before.cart, after.cart, new, [], changed)
    assert not verdict.passed and verdict.unauthorized


def test_an_empty_or_failed_turn_and_an_unasked_ticket_fail(facts: StoreFacts) -> None:
    conversation = {"customer": "ann", "checks": {}}
    ok = judge(conversation, facts, [TurnSeen("hi", "Hello!")], [], [], [], [], [])
    assert ok.passed
    assert not judge(conversation, facts, [TurnSeen("hi", " ")], [], [], [], [], []).passed
    assert not judge(conversation, facts, [TurnSeen("hi", "x", error="HTTP 500")], [], [], [], [], []).passed
    assert not judge(conversation, facts, [TurnSeen("hi", "Hello!")], [], [], [], [7], []).passed
    handed = conversation | {"checks": {"tickets": True}}
    assert judge(handed, facts, [TurnSeen("a person", "Done.")], [], [], [], [7], []).passed
    assert not judge(handed, facts, [TurnSeen("a person", "Done.")], [], [], [], [], []).passed


def test_a_sold_out_item_is_set_and_put_back(shop: Shop) -> None:
    old = set_stock(shop.db, SHOP, {"riviera-linen-shirt-m": 0})
    assert store_facts(shop.db, SHOP).variants["riviera-linen-shirt-m"].stock == 0
    set_stock(shop.db, SHOP, old)
    assert store_facts(shop.db, SHOP).variants["riviera-linen-shirt-m"].stock == 5
