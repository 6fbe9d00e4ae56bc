"""A support conversation over HTTP on a store that identifies customers: nothing about a customer until the
person says who they are, then their orders; what it proposes for them is held for their own app, and the
same session id of another writer is not identified."""

from __future__ import annotations

from typing import Any

import httpx
from tests.server.conftest import LiveServer
from tests.server.test_shopping_api import plan, post

from ponder.commerce.model import (
    Address,
    Customer,
    Order,
    OrderItem,
    PaymentMethod,
    PaymentRecord,
    Product,
    StoreData,
    Variant,
)
from ponder.config import CommerceConfig
from ponder.testing import ScriptedModel

HOME = Address("home", "1 Sea Road", "Porto", "PT", zip="4000-123")
STORE = StoreData(
    name="Coast",
    currency="EUR",
    products=(Product("umbrella", "Beach umbrella", (Variant("umb", "umbrella", {}, 2500, stock=3),)),),
    customers=(
        Customer(
            "ann",
            "Ann Lee",
            "ann@example.com",
            addresses=(HOME,),
            payment_methods=(PaymentMethod("visa", "card", "tok_test_visa_4242", "visa", "4242"),),
        ),
    ),
    orders=(
        Order(
            "#W100",
            "ann",
            "pending",
            (OrderItem("umb", "umbrella", "Beach umbrella", {}, 2500),),
            HOME,
            (PaymentRecord("charge", 2500, "visa"),),
        ),
    ),
)


def say(server: LiveServer, writer: str, text: str) -> dict[str, Any]:
    body = {
        "model": "ponder-shopping",
        "user": writer,
        "session_id": "conv-1",
        "messages": [{"role": "user", "content": text}],
    }
    answer = post(server, "/chat/completions", body)
    assert answer.status_code == 200, answer.text
    reply: dict[str, Any] = answer.json()
    return reply


def test_a_visitor_says_who_they_are_and_what_they_propose_waits_for_the_customer(start_server) -> None:
    steps = [plan("orders"), plan("cancel", order="last", reason="no longer needed"), plan("orders")]
    server: LiveServer = start_server(ScriptedModel(steps), commerce=CommerceConfig(identify_by=["email"]))
    server.app.state.ponder.shop.catalog.import_store("acme", STORE)

    asked = say(server, "visitor-7", "Where is my order?")["choices"][0]["message"]["content"]
    assert "#W100" not in asked and "email" in asked  # nothing shown before they say who they are

    found = say(server, "visitor-7", "Sure, it's ann@example.com")["choices"][0]["message"]["content"]
    assert "#W100" in found and "tok_" not in found

    cancel = say(server, "visitor-7", "Cancel it please, I no longer need it")
    [held] = cancel["ponder"]["pending_actions"]
    assert held["held"] is True and "token" not in held and held["kind"] == "cancel_order"
    assert held["target"] == "#W100"

    # Ann decides in the store's own app: the listing for her carries the token, with where it came from.
    listing = httpx.get(
        server.base_url + "/actions",
        params={"user": "ann"},
        headers={"Authorization": f"Bearer {server.keys['big']}"},
        timeout=30,
    ).json()["data"]
    [waiting] = [a for a in listing if a["id"] == held["id"]]
    assert waiting["origin"] == {"kind": "identified_conversation", "session_id": "conv-1"}
    done = post(server, f"/actions/{held['id']}/confirm", {"token": waiting["token"], "user": "ann"})
    assert done.status_code == 200 and done.json()["status"] == "done", done.text

    # The same session id written by someone else is their own session: not identified.
    other = say(server, "visitor-8", "Where is my order?")["choices"][0]["message"]["content"]
    assert "#W100" not in other and "email" in other
