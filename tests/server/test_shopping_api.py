"""The shopping mode over HTTP: ponder-shopping, pending actions in the `ponder` field, /v1/actions."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from tests.server.conftest import LiveServer

from ponder.commerce.checkout import LineItem
from ponder.commerce.crashpoints import SimulatedCrash, arm, disarm
from ponder.commerce.model import Address, Customer, PaymentMethod, Product, StoreData, Variant
from ponder.memory.owner import Owner
from ponder.store.database import sql
from ponder.testing import ScriptedModel

STORE = StoreData(
    name="Coast",
    currency="EUR",
    policy="Returns within 30 days.",
    products=(Product("umbrella", "Beach umbrella", (Variant("umb", "umbrella", {}, 2500, stock=3),)),),
    customers=(
        Customer(
            "ann",
            addresses=(Address("home", "1 Sea Road", "Porto", "PT"),),
            payment_methods=(PaymentMethod("visa", "card", "tok_test_visa_4242", "visa", "4242"),),
        ),
    ),
)


def plan(intent: str, **slots: str) -> str:
    """What the planner of a shopping turn writes (commerce/assistant): the scripted model writes it."""
    return json.dumps({"intent": intent, **slots})


BUY = plan("checkout", product="Beach umbrella")  # into the cart, then the order proposed


def post(server: LiveServer, path: str, body: dict[str, Any], key: str = "big") -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.keys[key]}"}
    return httpx.post(server.base_url + path, json=body, headers=headers, timeout=30)


def shopping_server(start_server, steps: list[Any]) -> LiveServer:
    server = start_server(ScriptedModel(steps))
    server.app.state.ponder.shop.catalog.import_store("acme", STORE)
    return server


def test_a_proposed_order_comes_back_to_the_client_and_is_confirmed_once(start_server) -> None:
    server = shopping_server(start_server, [BUY])
    body = {
        "model": "ponder-shopping",
        "mode": "thinking",
        "user": "ann",
        "messages": [{"role": "user", "content": "Buy the umbrella."}],
    }
    body.pop("mode")  # the model id picks the mode
    answer = post(server, "/chat/completions", body)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    [action] = data["ponder"]["pending_actions"]
    assert action["kind"] == "place_order" and action["amount"] == 2500 and action["status"] == "pending"
    assert action["token"] not in json.dumps([c.messages for c in server.model.calls], default=str)
    listed = httpx.get(
        server.base_url + "/actions",
        params={"user": "ann"},
        headers={"Authorization": f"Bearer {server.keys['big']}"},
        timeout=30,
    ).json()["data"]
    assert [a["id"] for a in listed] == [action["id"]] and "token" not in listed[0]
    assert action["object"] == listed[0]["object"] == "pending_action"  # the wire label, added by the server
    assert (
        "object" not in server.app.state.ponder.shop.actions.get(Owner("acme", "ann"), action["id"]).to_dict()
    )
    wrong = post(server, f"/actions/{action['id']}/confirm", {"token": "x" * 43, "user": "ann"})
    assert wrong.status_code == 400
    done = post(server, f"/actions/{action['id']}/confirm", {"token": action["token"], "user": "ann"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["result"]["total"] == 2500
    again = post(server, f"/actions/{action['id']}/confirm", {"token": action["token"], "user": "ann"})
    assert again.status_code == 422 and "already done" in again.json()["error"]["message"]
    other = post(server, f"/actions/{action['id']}/confirm", {"token": action["token"], "user": "bob"})
    assert other.status_code == 404


def test_a_streamed_shopping_turn_sends_the_action_before_done(start_server) -> None:
    server = shopping_server(start_server, [BUY])
    body = {
        "model": "ponder-shopping",
        "user": "ann",
        "stream": True,
        "messages": [{"role": "user", "content": "Buy the umbrella."}],
    }
    with httpx.stream(
        "POST",
        server.base_url + "/chat/completions",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {server.keys['big']}"},
    ) as response:
        events = [
            json.loads(line[6:])
            for line in response.iter_lines()
            if line.startswith("data: ") and line != "data: [DONE]"
        ]
    pending = [e["ponder"]["action"] for e in events if e.get("ponder", {}).get("type") == "pending_action"]
    assert len(pending) == 1 and pending[0]["token"]
    declined = post(
        server, f"/actions/{pending[0]['id']}/decline", {"token": pending[0]["token"], "user": "ann"}
    )
    assert declined.json()["status"] == "declined"


def test_shopping_without_a_store_says_how_to_load_one(start_server) -> None:
    server = start_server(ScriptedModel(["hi"]))
    body = {"model": "ponder-shopping", "messages": [{"role": "user", "content": "hi"}]}
    answer = post(server, "/chat/completions", body)
    assert answer.status_code == 404 and "ponder shop load" in answer.json()["error"]["message"]


def test_the_store_moves_an_order_forward_and_the_customer_sees_it(start_server) -> None:
    server = shopping_server(start_server, [BUY])
    answer = post(
        server,
        "/chat/completions",
        {"model": "ponder-shopping", "user": "ann", "messages": [{"role": "user", "content": "Buy it."}]},
    )
    [action] = answer.json()["ponder"]["pending_actions"]
    order = post(server, f"/actions/{action['id']}/confirm", {"token": action["token"], "user": "ann"})
    order_id = order.json()["result"]["id"]
    path = f"/orders/{quote(order_id, safe='')}/status"
    assert post(server, path, {"status": "processed"}).json()["status"] == "processed"
    delivered = post(server, path, {"status": "delivered", "note": "left at the door"})
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["object"] == "order"  # the wire shape, made by the server over the domain's view
    assert [e["status"] for e in delivered.json()["history"]] == ["pending", "processed", "delivered"]
    back = post(server, path, {"status": "processed"})
    assert back.status_code == 422 and "forward only" in back.json()["error"]["message"]
    assert post(server, path, {"status": "shipped"}).status_code == 400  # not a status the store sets
    assert post(server, "/orders/%23nope/status", {"status": "delivered"}).status_code == 404
    listed = httpx.get(
        server.base_url + "/orders",
        params={"user": "ann"},
        headers={"Authorization": f"Bearer {server.keys['big']}"},
        timeout=30,
    ).json()["data"]
    assert [(o["object"], o["id"], o["status"]) for o in listed] == [("order", order_id, "delivered")]


def test_a_proposed_action_keeps_the_models_words_apart_from_the_summary(start_server) -> None:
    reason = '[conceal]<img src=x onerror="alert(1)">\nNothing is cancelled'
    server = shopping_server(start_server, [BUY])
    chat = {"model": "ponder-shopping", "user": "ann", "messages": [{"role": "user", "content": "Buy it."}]}
    [bought] = post(server, "/chat/completions", chat).json()["ponder"]["pending_actions"]
    order = post(server, f"/actions/{bought['id']}/confirm", {"token": bought["token"], "user": "ann"})
    order_id = order.json()["result"]["id"]
    server.model.add(plan("cancel", order=order_id, reason=reason))
    answer = post(server, "/chat/completions", chat | {"messages": [{"role": "user", "content": "Cancel."}]})
    [action] = answer.json()["ponder"]["pending_actions"]
    assert action["summary"] == f"Cancel order {order_id} (1 × Beach umbrella). 25.00 EUR goes back to visa."
    assert action["assistant_note"] == '[conceal]<img src=x onerror="alert(1)"> Nothing is cancelled'
    assert action["arguments"]["reason"] == reason
    server.model.assert_all_used()


def test_the_server_sweeps_a_confirmation_that_died_after_the_charge(start_server) -> None:
    """Issue 16: a confirmation died after the provider charged, and the person never confirmed again. Once
    the checkout's lease is over, the server's job worker finishes it by itself: the order is written under
    that same charge (nothing charged twice, nothing left charged without an order)."""
    server = shopping_server(start_server, [])
    shop = server.app.state.ponder.shop
    ann = Owner("acme", "ann")
    action, token = shop.actions.propose_checkout(
        ann, address_id="home", payment_method_id="visa", items=[LineItem("umb", 1)]
    )
    arm("after_charge")
    try:
        with pytest.raises(SimulatedCrash):
            shop.actions.confirm(ann, action.id, token)
    finally:
        disarm()
    assert shop.actions.get(ann, action.id).status == "confirmed"
    with shop.db.transaction() as db:  # time passes: the lease and the sweeper's delay are over
        db.execute(sql("UPDATE idempotency_keys SET lease_until = 0"))
        db.execute(sql("UPDATE jobs SET run_at = 0"))
    deadline = time.monotonic() + 30
    while shop.actions.get(ann, action.id).status == "confirmed" and time.monotonic() < deadline:
        time.sleep(0.05)  # the worker polls every second
    done = shop.actions.get(ann, action.id)
    assert done.status == "done" and done.result is not None
    [charge] = shop.provider.charges()
    assert [p["reference"] for p in done.result["payments"]] == [charge.id] and shop.provider.refunds() == []
