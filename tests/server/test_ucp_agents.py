"""An outside shopping agent over UCP, with a credential of its own kind: it reaches the UCP routes only,
never sees or uses a customer's saved data, and never confirms; the person confirms on the store's own
surfaces and the agent reads the outcome. The store's own app (an account key) is covered by test_ucp.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.server.test_ucp import ANN, SAVED_VISA, STORE, call, complete, create, lines, shop

from ponder.commerce.agent_actions import agent_proposals
from ponder.memory.owner import Owner
from ponder.store import KeyStore
from ponder.store.database import sql

PROFILE = "https://agent.example/.well-known/ucp"
AS_AGENT = f'profile="{PROFILE}", version="2026-08-25"'
PIER = {
    "id": "agent-dest",
    "street_address": "9 Pier Lane",
    "address_locality": "Faro",
    "address_country": "PT",
}
AGENT_CARD = {
    "id": "pi_agent",
    "handler_id": "ponder_test",
    "type": "card",
    "credential": {"type": "token", "token": "tok_test_agent_card"},
}


@pytest.fixture
def server(start_server) -> LiveServer:
    live: LiveServer = start_server()
    live.app.state.ponder.shop.catalog.import_store("acme", STORE)
    return live


@pytest.fixture
def agent(server: LiveServer) -> str:
    """A UCP agent credential of the store's account, for PROFILE."""
    return KeyStore(server.app.state.ponder.db).create("acme", "big", agent_profile=PROFILE)[1]


def as_agent(server: LiveServer, key: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return call(server, method, path, body, key=key, agent=AS_AGENT)


def v1(server: LiveServer, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.request(method, server.base_url + path, headers=headers, timeout=30, **kwargs)


def agent_checkout_for_ann(server: LiveServer, agent: str) -> dict[str, Any]:
    """Ann's checkout as the agent starts it: its own destination, and a card token it holds."""
    body = {
        "line_items": lines(("umb", 1)),
        "buyer": {"email": ANN},
        "fulfillment": {"methods": [{"type": "shipping", "destinations": [PIER]}]},
    }
    answer = as_agent(server, agent, "POST", "/ucp/checkout-sessions", body)
    assert answer.status_code == 201, answer.text
    checkout: dict[str, Any] = answer.json()
    return checkout


def waiting_for_ann(server: LiveServer, agent: str) -> tuple[dict[str, Any], str, str]:
    """An agent's completed checkout of Ann's: the answer, its action id and its token (as the store holds
    it: the agent never sees it)."""
    checkout = agent_checkout_for_ann(server, agent)
    path = f"/ucp/checkout-sessions/{checkout['id']}/complete"
    answer = as_agent(server, agent, "POST", path, {"payment": {"instruments": [AGENT_CARD]}})
    assert answer.status_code == 200 and answer.json()["status"] == "requires_escalation", answer.text
    [held] = agent_proposals(server.app.state.ponder.db, Owner("acme", ANN)).values()
    assert held.checkout_id == checkout["id"] and held.agent == PROFILE
    assert held.token not in answer.text
    return answer.json(), held.action_id, held.token


def test_an_agent_credential_is_refused_on_every_v1_route(server, agent) -> None:
    chat = {"model": "ponder-instant", "messages": [{"role": "user", "content": "hi"}]}
    for method, path, options in (
        ("GET", "/models", {}),
        ("GET", f"/actions?user={ANN}", {}),
        ("GET", f"/orders?user={ANN}", {}),
        ("POST", "/actions/act_x/confirm", {"json": {"token": "t", "user": ANN}}),
        ("POST", "/chat/completions", {"json": chat}),
    ):
        answer = v1(server, agent, method, path, **options)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"]["code"] == "agent_credential"
    assert v1(server, server.keys["big"], "GET", f"/actions?user={ANN}").status_code == 200  # an account key


def test_an_agent_credential_works_only_with_the_profile_it_was_created_for(server, agent) -> None:
    other = call(
        server, "GET", "/ucp/checkout-sessions/chk_x", key=agent, agent='profile="https://other.example/p"'
    )
    assert other.status_code == 403 and other.json()["code"] == "profile_mismatch", other.text
    assert as_agent(server, agent, "GET", "/ucp/checkout-sessions/chk_x").status_code == 404


def test_an_agents_checkout_for_a_customer_shows_and_uses_none_of_their_saved_data(server, agent) -> None:
    checkout = as_agent(
        server,
        agent,
        "POST",
        "/ucp/checkout-sessions",
        {"line_items": lines(("umb", 1)), "buyer": {"email": ANN}},
    )
    assert checkout.status_code == 201, checkout.text
    shown = checkout.json()
    [method] = shown["fulfillment"]["methods"]
    assert method["destinations"] == [] and "selected_destination_id" not in method
    assert "payment" not in shown and shown["status"] == "incomplete"
    assert "1 Sea Road" not in checkout.text and "4242" not in checkout.text and "visa" not in checkout.text

    path = f"/ucp/checkout-sessions/{shown['id']}"
    chosen = {"methods": [{"type": "shipping", "selected_destination_id": "home"}]}  # Ann's saved address id
    update = {"line_items": lines(("umb", 1)), "buyer": {"email": ANN}, "fulfillment": chosen}
    guessed = as_agent(server, agent, "PUT", path, update)
    assert guessed.status_code == 200 and "1 Sea Road" not in guessed.text
    assert "not_found" in {m["code"] for m in guessed.json()["messages"]}

    mine = {"methods": [{"type": "shipping", "destinations": [PIER]}]}
    ready = as_agent(server, agent, "PUT", path, update | {"fulfillment": mine})
    assert ready.json()["status"] == "ready_for_complete", ready.text
    saved_card = as_agent(
        server, agent, "POST", path + "/complete", {"payment": {"instruments": [SAVED_VISA]}}
    )
    assert saved_card.status_code == 200 and saved_card.json()["status"] == "ready_for_complete"
    assert "payment_failed" in {m["code"] for m in saved_card.json()["messages"]}
    assert shop(server).actions.list_actions(Owner("acme", ANN)) == []  # nothing proposed on her card


def test_the_agent_holding_the_continue_url_cannot_confirm(server, agent) -> None:
    waiting, action_id, token = waiting_for_ann(server, agent)
    assert waiting["continue_url"] == f"{server.url}/ucp/confirm/{waiting['id']}"  # no token in it
    assert [m["severity"] for m in waiting["messages"]] == ["requires_buyer_review"]
    page = httpx.get(waiting["continue_url"], timeout=30)
    assert page.status_code == 200 and token not in page.text
    # Even the token itself (were it to leak) confirms nothing through the link's page, nor the agent's key.
    for suffix, body in (("/review", {"token": token}), ("", {"token": token, "decision": "confirm"})):
        refused = httpx.post(f"{server.url}/ucp/confirm/{waiting['id']}{suffix}", json=body, timeout=30)
        assert refused.status_code == 404, refused.text
    by_agent = v1(server, agent, "POST", f"/actions/{action_id}/confirm", json={"token": token, "user": ANN})
    assert by_agent.status_code == 403
    assert shop(server).provider.charges() == [] and shop(server).orders.list_orders(Owner("acme", ANN)) == []
    got = as_agent(server, agent, "GET", f"/ucp/checkout-sessions/{waiting['id']}").json()
    assert got["status"] == "requires_escalation" and "order" not in got


def test_the_person_confirms_on_the_stores_own_surface_and_the_agent_sees_the_order(server, agent) -> None:
    waiting, action_id, token = waiting_for_ann(server, agent)
    account = server.keys["big"]
    [listed] = v1(server, account, "GET", f"/actions?user={ANN}").json()["data"]
    assert listed["id"] == action_id and listed["token"] == token
    assert listed["origin"] == {"kind": "ucp_agent", "checkout_id": waiting["id"], "agent": PROFILE}
    assert "9 Pier Lane" in listed["summary"]
    confirmed = v1(
        server, account, "POST", f"/actions/{action_id}/confirm", json={"token": token, "user": ANN}
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "done", confirmed.text

    got = as_agent(server, agent, "GET", f"/ucp/checkout-sessions/{waiting['id']}").json()
    [order] = shop(server).orders.list_orders(Owner("acme", ANN))
    assert got["status"] == "completed" and got["order"]["id"] == order["id"]
    assert order["address"]["line1"] == "9 Pier Lane" and [
        c.amount for c in shop(server).provider.charges()
    ] == [2500]
    assert v1(server, account, "GET", f"/actions?user={ANN}").json()["data"] == []  # nothing left to confirm
    assert agent_proposals(server.app.state.ponder.db, Owner("acme", ANN)) == {}


def test_a_confirmation_is_accepted_only_for_the_user_the_action_belongs_to(server, agent) -> None:
    _, action_id, token = waiting_for_ann(server, agent)
    account = server.keys["big"]
    for user in ("bob@example.com", None):  # another customer; the account's default user
        body = {"token": token} | ({"user": user} if user else {})
        refused = v1(server, account, "POST", f"/actions/{action_id}/confirm", json=body)
        assert refused.status_code == 404, refused.text
    assert v1(server, account, "GET", "/actions?user=bob@example.com").json()["data"] == []
    assert shop(server).actions.get(Owner("acme", ANN), action_id).status == "pending"
    assert shop(server).provider.charges() == []


def test_a_checkout_belongs_to_the_credential_kind_that_started_it(server, agent) -> None:
    theirs = agent_checkout_for_ann(server, agent)
    ours = create(server, {"line_items": lines(("umb", 1)), "buyer": {"email": ANN}})
    _, other_agent = KeyStore(server.app.state.ponder.db).create("acme", "big", agent_profile=PROFILE)
    for key, checkout_id in (
        (server.keys["big"], theirs["id"]),
        (agent, ours["id"]),
        (other_agent, theirs["id"]),
    ):
        path = f"/ucp/checkout-sessions/{checkout_id}"
        for method, suffix, body in (("GET", "", None), ("POST", "/cancel", {})):
            answer = call(server, method, path + suffix, body, key=key, agent=AS_AGENT)
            assert answer.status_code == 404, answer.text
    assert complete(server, ours["id"], SAVED_VISA).json()["status"] == "requires_escalation"  # the app's own
    assert as_agent(server, agent, "GET", f"/ucp/checkout-sessions/{theirs['id']}").json()["status"] == (
        "ready_for_complete"
    )


def test_the_profile_and_links_use_the_configured_base_url_never_the_host_header(start_server) -> None:
    live: LiveServer = start_server()
    spoofed = httpx.get(live.url + "/.well-known/ucp", headers={"Host": "evil.example"}, timeout=30)
    assert spoofed.status_code == 200, spoofed.text
    service = spoofed.json()["ucp"]["services"]["dev.ucp.shopping"]  # 2026-01-11's: one service object
    assert service["rest"]["endpoint"] == live.url + "/ucp"  # the bind address, by default

    public: LiveServer = start_server(public_base_url="https://shop.example.com/")
    public.app.state.ponder.shop.catalog.import_store("acme", STORE)
    headers = {"Host": "evil.example", "UCP-Agent": AS_AGENT}  # the 2026-08-25 profile
    profile = httpx.get(public.url + "/.well-known/ucp", headers=headers, timeout=30)
    [service] = profile.json()["ucp"]["services"]["dev.ucp.shopping"]
    assert service["endpoint"] == "https://shop.example.com/ucp"
    older = profile.json()["ucp"]["supported_versions"]
    assert older == {"2026-01-11": "https://shop.example.com/.well-known/ucp/2026-01-11"}
    cache = profile.headers["cache-control"]
    assert "private" in cache and "public" not in cache
    checkout = create(public, {"line_items": lines(("umb", 1)), "buyer": {"email": ANN}})
    answer = complete(public, checkout["id"], SAVED_VISA)
    assert answer.json()["continue_url"].startswith(f"https://shop.example.com/ucp/confirm/{checkout['id']}#")


def test_the_agents_continue_url_page_only_says_where_to_confirm(server, agent, browser) -> None:
    waiting, action_id, _ = waiting_for_ann(server, agent)
    page = browser.new_page()
    page.goto(waiting["continue_url"])
    page.wait_for_selector("#summary:has-text('store\\'s own app')", timeout=15_000)
    hidden, content = page.is_hidden("#buttons"), page.content()
    assert hidden, content
    assert "Pier" not in content, content
    assert shop(server).actions.get(Owner("acme", ANN), action_id).status == "pending"


def anns_saved(server: LiveServer) -> tuple[list[Any], list[Any], list[Any]]:
    """Ann's saved addresses and payment methods, as the store lists them and as the database holds them."""
    customers, owner = shop(server).customers, Owner("acme", ANN)
    with server.app.state.ponder.db.reading() as db:
        rows = [
            tuple(r)
            for table in ("addresses", "payment_methods")
            for r in db.execute(
                sql(f"SELECT '{table}', id FROM {table} WHERE account = 'acme' AND user_id = :u ORDER BY id"),
                {"u": ANN},
            )
        ]
    return customers.addresses(owner), customers.payment_methods(owner), rows


def test_an_agents_complete_saves_nothing_to_the_buyers_account(server, agent) -> None:
    before = anns_saved(server)
    assert [a.id for a in before[0]] == ["home"] and [m.id for m in before[1]] == ["visa"]
    waiting_for_ann(server, agent)
    assert anns_saved(server) == before  # neither the agent's address nor its card
    # The store's own app, for Ann, is offered only what she saved herself.
    ours = create(server, {"line_items": lines(("umb", 1)), "buyer": {"email": ANN}})
    [method] = ours["fulfillment"]["methods"]
    assert [d["id"] for d in method["destinations"]] == ["home"]
    assert [i["id"] for i in ours["payment"]["instruments"]] == ["visa"]
    assert "Pier" not in str(ours) and "pm_" not in str(ours)


def test_an_agents_declined_or_expired_checkout_leaves_nothing_behind(server, agent) -> None:
    before = anns_saved(server)
    waiting, action_id, token = waiting_for_ann(server, agent)
    account = server.keys["big"]
    declined = v1(
        server, account, "POST", f"/actions/{action_id}/decline", json={"token": token, "user": ANN}
    )
    assert declined.status_code == 200, declined.text
    back = as_agent(server, agent, "GET", f"/ucp/checkout-sessions/{waiting['id']}").json()
    assert back["status"] == "ready_for_complete" and "buyer_declined" in {
        m["code"] for m in back["messages"]
    }
    assert anns_saved(server) == before

    path = f"/ucp/checkout-sessions/{waiting['id']}/complete"
    again = as_agent(server, agent, "POST", path, {"payment": {"instruments": [AGENT_CARD]}})
    assert again.json()["status"] == "requires_escalation", again.text
    with server.app.state.ponder.db.transaction() as db:  # the person never answers
        db.execute(
            sql("UPDATE pending_actions SET expires_at = 0 WHERE account = 'acme' AND user_id = :u"),
            {"u": ANN},
        )
    expired = as_agent(server, agent, "GET", f"/ucp/checkout-sessions/{waiting['id']}").json()
    assert "confirmation_expired" in {m["code"] for m in expired["messages"]}, expired
    assert anns_saved(server) == before
    assert shop(server).provider.charges() == []


def test_a_confirmed_agent_order_ships_and_charges_what_the_agent_gave_and_saves_nothing(
    server, agent
) -> None:
    before = anns_saved(server)
    waiting, action_id, token = waiting_for_ann(server, agent)
    account = server.keys["big"]
    [listed] = v1(server, account, "GET", f"/actions?user={ANN}").json()["data"]
    assert "tok_test_agent_card" not in str(listed)  # the agent's token is not shown to anyone
    confirmed = v1(
        server, account, "POST", f"/actions/{action_id}/confirm", json={"token": token, "user": ANN}
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "done", confirmed.text
    [order] = shop(server).orders.list_orders(Owner("acme", ANN))
    assert order["address"]["line1"] == "9 Pier Lane" and order["address"]["city"] == "Faro"
    [charge] = shop(server).provider.charges()
    assert charge.amount == 2500 and shop(server).provider.charge_token(charge.id) == "tok_test_agent_card"
    assert [p["reference"] for p in order["payments"]] == [charge.id]
    assert anns_saved(server) == before
    got = as_agent(server, agent, "GET", f"/ucp/checkout-sessions/{waiting['id']}").json()
    assert got["status"] == "completed" and got["order"]["id"] == order["id"]
    # Her own order can still be cancelled, the refund going back to the agent's instrument's charge.
    cancel, cancel_token = shop(server).actions.propose_cancel(
        Owner("acme", ANN), order["id"], "changed my mind"
    )
    shop(server).actions.confirm(Owner("acme", ANN), cancel.id, cancel_token)
    assert [(r.charge_id, r.amount) for r in shop(server).provider.refunds()] == [(charge.id, 2500)]
