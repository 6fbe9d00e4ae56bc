"""UCP checkout over REST against the live test server: discovery, the status machine, the person's
confirmation (the agent's complete never buys), idempotency, and what an agent may not do."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.server.conftest import LiveServer

from ponder.commerce.model import Address, Customer, PaymentMethod, Product, StoreData, Variant
from ponder.memory.owner import Owner
from ponder.store import KeyStore

ANN = "ann@example.com"
STORE = StoreData(
    name="Coast",
    currency="EUR",
    products=(
        Product(
            "umbrella",
            "Beach umbrella",
            (Variant("umb", "umbrella", {}, 2500, stock=3),),
            image_url="https://img.example/umbrella.jpg",
        ),
        Product("towel", "Towel", (Variant("towel-blue", "towel", {"color": "blue"}, 1200),)),
    ),
    customers=(
        Customer(
            ANN,
            addresses=(Address("home", "1 Sea Road", "Porto", "PT"),),
            payment_methods=(PaymentMethod("visa", "card", "tok_test_visa_4242", "visa", "4242"),),
        ),
    ),
)
AGENT = 'profile="https://agent.example/.well-known/ucp", version="2026-08-25"'  # the draft's shapes
SAVED_VISA = {"id": "visa", "handler_id": "ponder_test", "type": "card"}


@pytest.fixture
def server(start_server) -> LiveServer:
    live: LiveServer = start_server()
    live.app.state.ponder.shop.catalog.import_store("acme", STORE)
    return live


def call(
    server: LiveServer,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    idempotency: str | None = None,
    agent: str | None = AGENT,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or server.keys['big']}"}
    if agent is not None:
        headers["UCP-Agent"] = agent
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency
    return httpx.request(method, server.url + path, json=body, headers=headers, timeout=30)


def lines(*items: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"item": {"id": item}, "quantity": quantity} for item, quantity in items]


def create(server: LiveServer, body: dict[str, Any], **options: Any) -> dict[str, Any]:
    answer = call(server, "POST", "/ucp/checkout-sessions", body, **options)
    assert answer.status_code == 201, answer.text
    checkout: dict[str, Any] = answer.json()
    return checkout


def complete(
    server: LiveServer, checkout_id: str, instrument: dict[str, Any], **options: Any
) -> httpx.Response:
    body = {"payment": {"instruments": [instrument]}}
    return call(server, "POST", f"/ucp/checkout-sessions/{checkout_id}/complete", body, **options)


def proposed(server: LiveServer, items: list[dict[str, Any]] | None = None) -> tuple[dict[str, Any], str]:
    """A checkout of Ann's waiting for her confirmation, and the token of its link."""
    checkout = create(server, {"line_items": items or lines(("umb", 1)), "buyer": {"email": ANN}})
    answer = complete(server, checkout["id"], SAVED_VISA)
    assert answer.status_code == 200 and answer.json()["status"] == "requires_escalation", answer.text
    return answer.json(), token_of(answer.json()["continue_url"])


def token_of(continue_url: str) -> str:
    fragment = urlsplit(continue_url).fragment
    assert fragment.startswith("token=")
    return fragment.removeprefix("token=")


def review(server: LiveServer, checkout_id: str, token: str) -> httpx.Response:
    return httpx.post(f"{server.url}/ucp/confirm/{checkout_id}/review", json={"token": token}, timeout=30)


def shop(server: LiveServer) -> Any:
    return server.app.state.ponder.shop


def test_the_profile_advertises_the_rest_endpoint_checkout_and_our_payment_handler(server) -> None:
    answer = httpx.get(server.url + "/.well-known/ucp", headers={"UCP-Agent": AGENT}, timeout=30)  # no key
    assert answer.status_code == 200, answer.text
    assert "private" in answer.headers["cache-control"]  # not for shared caches (test_ucp_agents.py)
    ucp = answer.json()["ucp"]
    assert ucp["version"] == "2026-08-25"
    [service] = ucp["services"]["dev.ucp.shopping"]
    assert service["transport"] == "rest" and service["endpoint"] == server.url + "/ucp"
    assert ucp["capabilities"]["dev.ucp.shopping.checkout"][0]["version"] == "2026-08-25"
    assert ucp["capabilities"]["dev.ucp.shopping.fulfillment"][0]["extends"] == "dev.ucp.shopping.checkout"
    [handlers] = ucp["payment_handlers"].values()
    assert [h["id"] for h in handlers] == ["ponder_test"]


def test_create_get_update_complete_then_the_person_confirms_and_the_order_shows(server) -> None:
    checkout = create(server, {"line_items": lines(("umb", 1)), "buyer": {"email": ANN}})
    assert checkout["status"] == "ready_for_complete", checkout.get("messages")
    assert checkout["currency"] == "EUR" and checkout["ucp"]["version"] == "2026-08-25"
    [line] = checkout["line_items"]
    assert line["item"] == {
        "id": "umb",
        "title": "Beach umbrella",
        "price": 2500,
        "image_url": "https://img.example/umbrella.jpg",
    }
    assert checkout["totals"] == [{"type": "subtotal", "amount": 2500}, {"type": "total", "amount": 2500}]
    [method] = checkout["fulfillment"]["methods"]
    assert method["selected_destination_id"] == "home"  # Ann's one saved address
    assert [i["id"] for i in checkout["payment"]["instruments"]] == ["visa"]
    path = f"/ucp/checkout-sessions/{checkout['id']}"
    assert call(server, "GET", path).json() == checkout

    update = {
        "line_items": [{"id": line["id"], "item": {"id": "umb"}, "quantity": 2}],
        "buyer": {"email": ANN},
    }
    updated = call(server, "PUT", path, update)
    assert updated.status_code == 200, updated.text
    assert (
        updated.json()["line_items"][0]["quantity"] == 2
        and updated.json()["line_items"][0]["id"] == line["id"]
    )
    assert updated.json()["totals"][-1] == {"type": "total", "amount": 5000}

    answer = complete(server, checkout["id"], SAVED_VISA)
    assert answer.status_code == 200, answer.text
    waiting = answer.json()
    assert waiting["status"] == "requires_escalation" and "order" not in waiting
    assert [m["severity"] for m in waiting["messages"]] == ["requires_buyer_review"]
    assert waiting["continue_url"].startswith(f"{server.url}/ucp/confirm/{checkout['id']}#token=")
    owner = Owner("acme", ANN)
    assert shop(server).orders.list_orders(owner) == [] and shop(server).provider.charges() == []
    assert call(server, "GET", path).json()["continue_url"] == waiting["continue_url"]

    # The person opens the link: the page, then (its script) the summary, then confirms with the token.
    token = token_of(waiting["continue_url"])
    page = httpx.get(waiting["continue_url"], timeout=30)
    assert page.status_code == 200 and "Confirm your order" in page.text and token not in page.text
    assert (
        page.headers["cache-control"] == "no-store"
        and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )
    seen = review(server, checkout["id"], token)
    assert seen.status_code == 200, seen.text
    assert seen.json()["status"] == "requires_escalation" and seen.json()["total"] == "50.00 EUR"
    assert "2 × Beach umbrella" in seen.json()["summary"]
    confirmed = httpx.post(
        f"{server.base_url}/actions/{seen.json()['action_id']}/confirm",
        json={"token": token, "user": ANN},
        headers={"Authorization": f"Bearer {server.keys['big']}"},
        timeout=30,
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "done", confirmed.text

    done = call(server, "GET", path).json()
    [order] = shop(server).orders.list_orders(owner)
    assert done["status"] == "completed" and done["order"]["id"] == order["id"]
    assert done["order"]["permalink_url"] == f"{server.url}/ucp/confirm/{checkout['id']}"
    assert "continue_url" not in done and order["total"] == 5000
    assert [c.amount for c in shop(server).provider.charges()] == [5000]
    for method_name, suffix, body in (
        ("PUT", "", update),
        ("POST", "/complete", {"payment": {}}),
        ("POST", "/cancel", {}),
    ):
        refused = call(server, method_name, path + suffix, body)
        assert refused.status_code == 409, (suffix, refused.text)
        assert refused.json()["ucp"]["status"] == "error" and refused.json()["messages"][0]["code"]
    assert call(server, "GET", path).json() == done  # completed is final


def test_a_new_buyer_ships_to_a_new_address_pays_with_a_provider_token_and_confirms_on_the_page(
    server,
) -> None:
    destination = {
        "id": "platform-dest-1",
        "street_address": "5 Hill Street",
        "address_locality": "Lisbon",
        "postal_code": "1000-001",
        "address_country": "PT",
        "first_name": "Bo",
        "last_name": "Reis",
    }
    body = {
        "line_items": lines(("towel-blue", 3)),
        "buyer": {"email": "Bo@Example.com", "first_name": "Bo"},
        "fulfillment": {"methods": [{"type": "shipping", "destinations": [destination]}]},
    }
    checkout = create(server, body)
    assert checkout["status"] == "ready_for_complete", checkout.get("messages")
    assert checkout["line_items"][0]["item"]["title"] == "Towel (color blue)"
    [method] = checkout["fulfillment"]["methods"]
    [shown] = method["destinations"]
    assert shown["id"] == "platform-dest-1" and shown["street_address"] == "5 Hill Street"  # its own id
    assert method["selected_destination_id"] == shown["id"]
    assert "payment" not in checkout  # a new customer has no saved methods

    instrument = {
        "id": "pi_1",
        "handler_id": "ponder_test",
        "type": "card",
        "display": {"brand": "visa", "last_digits": "4242"},
        "credential": {"type": "token", "token": "tok_test_bo_secret"},
    }
    answer = complete(server, checkout["id"], instrument)
    assert answer.status_code == 200 and answer.json()["status"] == "requires_escalation", answer.text
    assert "tok_test_bo_secret" not in answer.text  # a credential is never echoed
    assert answer.json()["payment"]["instruments"][0] == {
        k: v for k, v in instrument.items() if k != "credential"
    } | {"selected": True}
    bo = Owner("acme", "bo@example.com")  # one user per email, lower-cased
    assert [a.line1 for a in shop(server).customers.addresses(bo)] == ["5 Hill Street"]

    token = token_of(answer.json()["continue_url"])
    placed = httpx.post(
        f"{server.url}/ucp/confirm/{checkout['id']}", json={"token": token, "decision": "confirm"}, timeout=30
    )
    assert placed.status_code == 200, placed.text
    assert placed.json()["status"] == "completed" and placed.json()["order_id"]
    [order] = shop(server).orders.list_orders(bo)
    assert order["id"] == placed.json()["order_id"] and order["address"]["line1"] == "5 Hill Street"
    got = call(server, "GET", f"/ucp/checkout-sessions/{checkout['id']}").json()
    assert got["status"] == "completed" and got["order"]["id"] == order["id"]
    again = httpx.post(
        f"{server.url}/ucp/confirm/{checkout['id']}", json={"token": token, "decision": "confirm"}, timeout=30
    )
    assert again.status_code == 422 and len(shop(server).orders.list_orders(bo)) == 1  # a token works once


def test_cancel_withdraws_the_pending_confirmation(server) -> None:
    waiting, token = proposed(server)
    path = f"/ucp/checkout-sessions/{waiting['id']}"
    canceled = call(server, "POST", path + "/cancel", {})
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled", canceled.text
    assert "continue_url" not in canceled.json()
    action_id = review(server, waiting["id"], token).json()["action_id"]
    late = httpx.post(
        f"{server.base_url}/actions/{action_id}/confirm",
        json={"token": token, "user": ANN},
        headers={"Authorization": f"Bearer {server.keys['big']}"},
        timeout=30,
    )
    assert late.status_code == 422 and "declined" in late.json()["error"]["message"]
    assert shop(server).provider.charges() == [] and call(server, "GET", path).json()["status"] == "canceled"
    assert call(server, "PUT", path, {"line_items": lines(("umb", 1))}).status_code == 409


def test_a_declined_confirmation_returns_the_checkout_to_ready_and_a_new_complete_makes_a_new_link(
    server,
) -> None:
    waiting, token = proposed(server)
    declined = httpx.post(
        f"{server.url}/ucp/confirm/{waiting['id']}", json={"token": token, "decision": "decline"}, timeout=30
    )
    assert declined.status_code == 200 and declined.json()["status"] == "withdrawn", declined.text
    path = f"/ucp/checkout-sessions/{waiting['id']}"
    back = call(server, "GET", path).json()
    assert back["status"] == "ready_for_complete" and "continue_url" not in back
    assert [m["code"] for m in back["messages"]] == ["buyer_declined"]
    again = complete(server, waiting["id"], SAVED_VISA).json()
    assert again["status"] == "requires_escalation" and again["continue_url"] != waiting["continue_url"]
    assert review(server, waiting["id"], token).status_code == 404  # the old link is dead
    assert (
        review(server, waiting["id"], token_of(again["continue_url"])).json()["status"]
        == "requires_escalation"
    )


def test_an_update_while_waiting_for_the_person_withdraws_the_old_link(server) -> None:
    waiting, token = proposed(server)
    path = f"/ucp/checkout-sessions/{waiting['id']}"
    updated = call(server, "PUT", path, {"line_items": lines(("umb", 2)), "buyer": {"email": ANN}})
    assert updated.status_code == 200 and updated.json()["status"] == "ready_for_complete", updated.text
    withdrawn = httpx.post(
        f"{server.url}/ucp/confirm/{waiting['id']}", json={"token": token, "decision": "confirm"}, timeout=30
    )
    assert withdrawn.status_code == 422 and shop(server).provider.charges() == []  # never the old cart


def test_idempotent_create_replays_and_a_changed_body_is_a_conflict(server) -> None:
    body = {"line_items": lines(("umb", 1)), "buyer": {"email": ANN}}
    first = create(server, body, idempotency="k-1")
    assert create(server, body, idempotency="k-1") == first
    changed = call(
        server, "POST", "/ucp/checkout-sessions", body | {"line_items": lines(("umb", 2))}, idempotency="k-1"
    )
    assert changed.status_code == 409 and changed.json()["code"] == "idempotency_conflict", changed.text
    other = create(server, body, idempotency="k-2")
    assert other["id"] != first["id"]

    one = complete(server, first["id"], SAVED_VISA, idempotency="c-1")
    assert complete(server, first["id"], SAVED_VISA, idempotency="c-1").json() == one.json()
    assert len(shop(server).actions.list_actions(Owner("acme", ANN))) == 1  # one proposal, replayed
    conflict = complete(server, first["id"], {**SAVED_VISA, "id": "other"}, idempotency="c-1")
    assert conflict.status_code == 409


def test_unknown_items_are_business_outcomes(server) -> None:
    nothing = call(
        server, "POST", "/ucp/checkout-sessions", {"line_items": lines(("nope", 1)), "buyer": {"email": ANN}}
    )
    assert nothing.status_code == 200, nothing.text
    assert nothing.json()["ucp"]["status"] == "error" and "id" not in nothing.json()
    assert nothing.json()["messages"][0]["code"] == "item_unavailable"

    partly = create(
        server, {"line_items": lines(("umb", 5), ("nope", 1), ("towel-blue", 1)), "buyer": {"email": ANN}}
    )
    assert [li["item"]["id"] for li in partly["line_items"]] == ["umb", "towel-blue"]
    assert partly["status"] == "incomplete"
    codes = {m["code"]: m.get("path") for m in partly["messages"]}
    assert codes == {"out_of_stock": "$.line_items[0].quantity", "not_found": None}
    refused = complete(server, partly["id"], SAVED_VISA).json()
    assert refused["status"] == "incomplete" and "continue_url" not in refused
    assert shop(server).actions.list_actions(Owner("acme", ANN)) == []
    fixed = call(
        server,
        "PUT",
        f"/ucp/checkout-sessions/{partly['id']}",
        {"line_items": lines(("umb", 3)), "buyer": {"email": ANN}},
    )
    assert fixed.json()["status"] == "ready_for_complete" and "messages" not in fixed.json()


def test_a_checkout_needs_the_buyer_email_before_it_can_complete(server) -> None:
    checkout = create(server, {"line_items": lines(("umb", 1))})
    assert checkout["status"] == "incomplete"
    assert {"$.buyer.email", "$.fulfillment.methods[0].selected_destination_id"} <= {
        m.get("path") for m in checkout["messages"]
    }
    answer = complete(server, checkout["id"], SAVED_VISA)
    assert answer.status_code == 200 and answer.json()["status"] == "incomplete"


def test_prices_come_from_the_catalog_whatever_the_agent_sends(server) -> None:
    tampered = [{"item": {"id": "umb", "title": "Free umbrella", "price": 1}, "quantity": 1, "totals": []}]
    body = {"line_items": tampered, "buyer": {"email": ANN}, "totals": [{"type": "total", "amount": 1}]}
    checkout = create(server, body)
    assert checkout["line_items"][0]["item"]["price"] == 2500
    assert checkout["line_items"][0]["item"]["title"] == "Beach umbrella"
    assert checkout["totals"][-1] == {"type": "total", "amount": 2500}
    answer = complete(server, checkout["id"], SAVED_VISA).json()
    seen = review(server, checkout["id"], token_of(answer["continue_url"])).json()
    assert seen["total"] == "25.00 EUR"


def test_another_accounts_key_cannot_reach_a_checkout(server) -> None:
    checkout = create(server, {"line_items": lines(("umb", 1)), "buyer": {"email": ANN}})
    _, other = KeyStore(server.app.state.ponder.db).create("globex", "big")
    path = f"/ucp/checkout-sessions/{checkout['id']}"
    for method, suffix, body in (
        ("GET", "", None),
        ("PUT", "", {"line_items": lines(("umb", 1))}),
        ("POST", "/cancel", {}),
    ):
        answer = call(server, method, path + suffix, body, key=other)
        assert answer.status_code == 404, answer.text
        assert answer.json()["messages"][0]["code"] == "not_found"
    assert call(server, "GET", path).json()["status"] == "ready_for_complete"  # untouched
    assert review(server, checkout["id"], "x" * 43).status_code == 404  # nor does a guessed token


def test_protocol_errors_use_ucp_shapes(server) -> None:
    no_agent = call(server, "POST", "/ucp/checkout-sessions", {"line_items": lines(("umb", 1))}, agent=None)
    assert no_agent.status_code == 400 and no_agent.json()["code"] == "invalid_profile_url"
    plain_http = call(server, "GET", "/ucp/checkout-sessions/x", agent='profile="http://agent.example/p"')
    assert plain_http.status_code == 400 and plain_http.json()["code"] == "invalid_profile_url"
    bad_key = call(server, "GET", "/ucp/checkout-sessions/x", key="pk-nope")
    assert bad_key.status_code == 401 and set(bad_key.json()) == {"code", "content"}
    zero = call(server, "POST", "/ucp/checkout-sessions", {"line_items": lines(("umb", 0))})
    assert zero.status_code == 400 and zero.json()["code"] == "invalid_request"
    unknown = call(server, "GET", "/ucp/checkout-sessions/chk_nope")
    assert unknown.status_code == 404 and unknown.json()["ucp"] == {
        "version": "2026-08-25",
        "status": "error",
    }


def test_the_person_confirms_in_a_browser(server, browser) -> None:
    waiting, _ = proposed(server, lines(("towel-blue", 2)))
    page = browser.new_page()
    page.goto(waiting["continue_url"])
    page.wait_for_selector("#buttons:not([hidden])", timeout=15_000)
    assert "2 × Towel" in page.inner_text("#summary") and "24.00 EUR" in page.inner_text("#total")
    assert shop(server).provider.charges() == []
    page.click("#confirm")
    page.wait_for_selector("#outcome:has-text('is placed')", timeout=15_000)
    outcome = page.inner_text("#outcome")
    got = call(server, "GET", f"/ucp/checkout-sessions/{waiting['id']}").json()
    assert got["status"] == "completed" and got["order"]["id"] in outcome
