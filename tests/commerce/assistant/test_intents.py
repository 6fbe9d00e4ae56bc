"""The intent the customer's words make plain, over a small model's plan."""

from __future__ import annotations

import pytest

from ponder.commerce.assistant.intents import corrected
from ponder.commerce.assistant.plan import Intent, Plan
from ponder.commerce.assistant.table import Table, read_table
from ponder.commerce.shop import Shop
from ponder.messages import Message

from ..conftest import ANN


@pytest.mark.parametrize(
    ("planned", "said", "cart", "shown", "intent"),
    [
        ("cart", "Great, check out please.", True, False, "checkout"),
        ("change_item", "Empty my cart, I changed my mind.", True, False, "remove"),
        ("update_cart", "Clear my basket please", True, False, "remove"),
        ("change_item", "Make the shirt in my cart a size L instead", True, False, "update_cart"),
        ("update_cart", "On order #W1, change the shirt to L", False, False, "change_item"),
        ("checkout", "Can you ship order #W1 to 7 Quay Lane, Lisbon?", False, False, "change_address"),
        ("add", "Which of those come in a large?", False, True, "which"),
        ("add", "Put one of those in my cart", False, True, "add"),
        ("add", "Please pass me to someone on your team", False, False, "person"),
        ("answer", "Do you sell surfboards?", False, False, "search"),
        ("answer", "How long do returns take?", False, False, "answer"),
        ("search", "Where are the espadrilles I ordered?", False, False, "orders"),
        ("return", "did the shirt I ordered ever get delivered", False, False, "orders"),
        ("return", "yeah scrap it, I found one locally", False, False, "cancel"),
        ("return", "could I trade the shirt for the L?", False, False, "exchange"),
        ("update_cart", "make it an L instead", False, False, "change_item"),
        ("search", "any gift ideas under 50 dollars?", False, False, "recommend"),
        ("return", "My refund is stuck for weeks, please get a person to look at it", False, False, "person"),
    ],
)
def test_plain_words_decide_the_intent(
    shop: Shop, planned: Intent, said: str, cart: bool, shown: bool, intent: Intent
) -> None:
    if cart:
        shop.carts.add(ANN, "shirt-m")
    history = [Message.assistant("1. **Linen shirt** — 45.00 EUR")] if shown else []
    table: Table = read_table(shop, ANN, history)
    plan = Plan(planned, product="surfboards" if planned == "answer" and "sell" in said else "")
    assert corrected(plan, said, table).intent == intent


@pytest.mark.parametrize(
    ("planned", "said", "before", "intent"),
    [
        # a complaint about something bought is not a request to change the order: its order is shown
        ("return", "the espadrilles I got rub my heels", "", "orders"),
        ("exchange", "my linen shirt feels tight across the shoulders", "", "orders"),
        ("return", "my old sandals finally gave up", "", "answer"),  # nothing of the store's
        ("cancel", "the linen shirt I ordered is lovely", "", "orders"),
        # how a change went is a question about the order, not a new change
        ("return", "hi, has my refund for the espadrilles come through?", "", "orders"),
        ("return", "what's happening with the espadrilles I returned?", "", "orders"),
        # another size of something bought, in the customer's words, now or over two messages
        ("search", "the shirt I bought is a bit snug, could I get an L in its place?", "", "exchange"),
        ("orders", "I'd like the L rather than the M", "my linen shirt arrived yesterday", "exchange"),
        (
            "exchange",
            "honestly I'd prefer my money back rather than a swap",
            "my espadrilles are narrow",
            "return",
        ),
        ("return", "ok, then a swap for a 41 please", "the espadrilles I got are too narrow", "exchange"),
        ("orders", "could you call the whole order off?", "", "cancel"),
        # the verbs in any form: "swapped", "delivered", "going back"
        ("orders", "could the shirt I bought be swapped for an L?", "", "exchange"),
        ("checkout", "go ahead with the order, ship it home", "", "checkout"),  # a new order's address
        ("change_item", "my shirt hasn't shipped yet, can you change it from M to L?", "", "change_item"),
        ("change_item", "my espadrilles haven't shipped, change them from 40 to 41", "", "change_item"),
        ("update_cart", "could my order be delivered to 7 Quay Lane, Lisbon instead?", "", "change_address"),
        ("return", "both pairs of espadrilles I got are going back, unworn", "", "return"),
        ("return", "the espadrilles I got are the wrong size, I want my money back", "", "return"),
        ("update_cart", "the shirt I ordered was meant to be an L, not an M", "", "exchange"),
        ("add", "can #W1 come to my sister's place instead?", "", "change_address"),
        (
            "return",
            "the order that's headed to my office should come to 7 Quay Lane, Lisbon",
            "",
            "change_address",
        ),
        ("change_address", "that's the one", "please send my order to 7 Quay Lane, Lisbon", "change_address"),
    ],
)
def test_a_change_of_an_order_needs_the_customer_to_ask_for_it(
    shop: Shop, planned: Intent, said: str, before: str, intent: Intent
) -> None:
    table: Table = read_table(shop, ANN, [])
    assert corrected(Plan(planned), said, table, before).intent == intent
