"""UCP's two versions over HTTP: discovery per version, a platform on the released 2026-01-11 driving a
checkout in that version's shapes (checked by the models generated from its schemas), the version an agent
declares and the one it gets when it declares none, and a store open to agents without a key."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.server.test_ucp import ANN, STORE, call, token_of

from ponder.commerce.ucp.v2026_01_11.discovery.profile_schema import UcpDiscoveryProfile
from ponder.commerce.ucp.v2026_01_11.schemas.shopping.fulfillment_resp import Checkout as ReleasedCheckout
from ponder.config import UcpConfig
from ponder.store import KeyStore

RELEASED_AGENT = 'profile="https://agent.example/.well-known/ucp"'  # declares no version: the default
CARD = {
    "id": "instr_1",
    "handler_id": "ponder_test",
    "type": "card",
    "brand": "Visa",
    "last_digits": "4242",
    "credential": {"type": "token", "token": "tok_test_visa_4242"},
}
SHIP_TO = {
    "methods": [
        {
            "type": "shipping",
            "destinations": [
                {
                    "id": "d1",
                    "street_address": "1 Main",
                    "address_locality": "Lisbon",
                    "address_country": "PT",
                }
            ],
            "selected_destination_id": "d1",
        }
    ]
}


@pytest.fixture
def server(start_server) -> LiveServer:
    live: LiveServer = start_server()
    live.app.state.ponder.shop.catalog.import_store("acme", STORE)
    return live


def released_create(**extra: Any) -> dict[str, Any]:
    return {
        "line_items": [{"item": {"id": "umb", "title": "Beach umbrella"}, "quantity": 1}],
        "buyer": {"email": ANN},
        "currency": "EUR",
        "payment": {"instruments": [], "handlers": []},
        "fulfillment": SHIP_TO,
    } | extra


def get(server: LiveServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(server.url + path, headers=headers, timeout=30)


def test_discovery_answers_each_version_in_its_own_shapes(server) -> None:
    default = get(server, "/.well-known/ucp")
    assert default.status_code == 200 and "UCP-Agent" in default.headers["vary"]
    profile = UcpDiscoveryProfile.model_validate(default.json())  # what a 2026-01-11 platform parses
    assert str(profile.ucp.services.root["dev.ucp.shopping"].rest.endpoint) == server.url + "/ucp"
    assert get(server, "/.well-known/ucp/2026-01-11").json() == default.json()

    draft = get(server, "/.well-known/ucp", **{"UCP-Agent": RELEASED_AGENT + ', version="2026-08-25"'}).json()
    assert draft["ucp"]["version"] == "2026-08-25"
    assert draft["ucp"]["supported_versions"] == {"2026-01-11": server.url + "/.well-known/ucp/2026-01-11"}
    leaf = get(server, "/.well-known/ucp/2026-08-25").json()
    assert "supported_versions" not in leaf["ucp"]  # a version's own profile is a leaf
    assert leaf["ucp"]["services"] == draft["ucp"]["services"]

    later = get(server, "/.well-known/ucp", **{"UCP-Agent": RELEASED_AGENT + ', version="2099-01-01"'})
    assert later.status_code == 422 and later.json()["code"] == "version_unsupported"
    assert get(server, "/.well-known/ucp/2099-01-01").status_code == 404


def test_the_payment_handlers_spec_and_config_schema_are_served(server) -> None:
    [handler] = get(server, "/.well-known/ucp").json()["payment"]["handlers"]
    schema = httpx.get(handler["config_schema"], timeout=30)
    assert schema.status_code == 200
    assert set(schema.json()["required"]) <= set(handler["config"])
    assert httpx.get(handler["spec"], timeout=30).json()["name"] == handler["name"]


def test_a_released_platform_creates_updates_and_completes_in_2026_01_11_shapes(server) -> None:
    created = call(server, "POST", "/ucp/checkout-sessions", released_create(), agent=RELEASED_AGENT)
    assert created.status_code == 201, created.text
    checkout = ReleasedCheckout.model_validate(created.json())
    assert checkout.ucp.version.root == "2026-01-11" and checkout.status == "ready_for_complete"
    assert [h.id for h in checkout.payment.handlers] == ["ponder_test"]

    line = created.json()["line_items"][0]
    update = released_create(
        id=checkout.id, line_items=[{"id": line["id"], "item": {"id": "umb"}, "quantity": 2}]
    )
    path = f"/ucp/checkout-sessions/{checkout.id}"
    updated = call(server, "PUT", path, update, agent=RELEASED_AGENT)
    assert updated.status_code == 200, updated.text
    assert ReleasedCheckout.model_validate(updated.json()).totals[-1].amount == 5000
    wrong_id = call(server, "PUT", path, update | {"id": "chk_other"}, agent=RELEASED_AGENT)
    assert wrong_id.status_code == 400 and wrong_id.json()["messages"][0]["type"] == "error"

    done = call(
        server, "POST", path + "/complete", {"payment_data": CARD, "risk_signals": {}}, agent=RELEASED_AGENT
    )
    assert done.status_code == 200, done.text
    proposal = ReleasedCheckout.model_validate(done.json())
    assert proposal.status == "requires_escalation"  # completing never buys: the person confirms
    assert token_of(str(proposal.continue_url))
    assert done.json()["payment"]["selected_instrument_id"] == "instr_1"
    read = call(server, "GET", path, agent=RELEASED_AGENT)
    assert ReleasedCheckout.model_validate(read.json()).status == "requires_escalation"
    draft = call(server, "GET", path, agent=RELEASED_AGENT + ', version="2026-08-25"').json()
    assert draft["ucp"]["version"] == "2026-08-25"  # the same checkout, read by a platform on the draft


def test_released_errors_are_http_errors_with_status_and_messages(server) -> None:
    sold_out = released_create(line_items=[{"item": {"id": "nope"}, "quantity": 1}])
    refused = call(server, "POST", "/ucp/checkout-sessions", sold_out, agent=RELEASED_AGENT)
    assert refused.status_code == 400, refused.text
    assert refused.json()["messages"][0]["code"] and "ucp" not in refused.json()
    missing = call(server, "GET", "/ucp/checkout-sessions/chk_none", agent=RELEASED_AGENT)
    assert missing.status_code == 404 and missing.json()["messages"][0]["code"] == "not_found"
    off_schema = call(server, "POST", "/ucp/checkout-sessions", {"line_items": []}, agent=RELEASED_AGENT)
    assert off_schema.status_code == 400 and "currency" in off_schema.text


def test_a_version_the_store_does_not_speak_is_refused_before_anything_happens(server) -> None:
    later = RELEASED_AGENT + ', version="2099-01-01"'
    refused = call(server, "POST", "/ucp/checkout-sessions", released_create(), agent=later)
    assert refused.status_code == 422 and refused.json()["code"] == "version_unsupported"
    assert "2026-01-11, 2026-08-25" in refused.json()["content"]


def test_an_open_store_serves_agents_without_a_key_each_to_its_own_checkouts(start_server) -> None:
    closed: LiveServer = start_server()
    anonymous = {"UCP-Agent": RELEASED_AGENT}
    no_key = httpx.post(closed.url + "/ucp/checkout-sessions", json=released_create(), headers=anonymous)
    assert no_key.status_code == 401  # the default: every UCP call needs a key

    live: LiveServer = start_server(ucp=UcpConfig(open_account="acme", open_tier="free"))
    live.app.state.ponder.shop.catalog.import_store("acme", STORE)
    created = httpx.post(live.url + "/ucp/checkout-sessions", json=released_create(), headers=anonymous)
    assert created.status_code == 201, created.text
    path = f"{live.url}/ucp/checkout-sessions/{created.json()['id']}"
    assert httpx.get(path, headers=anonymous).json()["id"] == created.json()["id"]
    other = {"UCP-Agent": 'profile="https://other.example/.well-known/ucp"'}
    assert httpx.get(path, headers=other).status_code == 404  # another agent's checkout is not there
    # Limits count per client address ("free": 5 a minute), whatever profile the agent names.
    statuses = [
        httpx.get(path, headers={"UCP-Agent": f'profile="https://a{i}.example/p"'}).status_code
        for i in range(4)
    ]
    assert statuses[-1] == 429, statuses


def test_a_released_platform_gets_discounts_and_shipping_in_2026_01_11_shapes(start_server) -> None:
    from tests.commerce.ucp.test_pricing import PRICED_STORE

    from ponder.commerce.ucp.v2026_01_11.schemas.shopping.discount_resp import DiscountsObject

    live: LiveServer = start_server()
    live.app.state.ponder.shop.catalog.import_store("acme", PRICED_STORE)
    request = released_create(line_items=[{"item": {"id": "umb"}, "quantity": 2}]) | {
        "discounts": {"codes": ["TENOFF"]}
    }
    created = call(live, "POST", "/ucp/checkout-sessions", request, agent=RELEASED_AGENT)
    assert created.status_code == 201, created.text
    checkout = ReleasedCheckout.model_validate(created.json())
    totals = {t.type: t.amount for t in checkout.totals}
    # 2026-01-11's totals are positive: the discount is what was taken off.
    assert totals == {"subtotal": 5000, "items_discount": 500, "fulfillment": 600, "total": 5100}
    applied = DiscountsObject.model_validate(created.json()["discounts"]).applied
    assert [(d.code, d.amount) for d in applied] == [("TENOFF", 500)]


def test_checkouts_are_signed_with_the_key_the_profile_publishes_and_a_mandate_buys(
    start_server, tmp_path
) -> None:
    from tests.commerce.ucp.test_mandates import ISSUER, mandate

    from ponder.commerce.ucp.signing import verify_detached

    jwks = tmp_path / "platform.jwks"
    jwks.write_text(json.dumps({"keys": [ISSUER.export_public(as_dict=True)]}))
    profile = "https://platform.example/.well-known/ucp"  # the issuer the mandate helper signs as
    live: LiveServer = start_server(ucp=UcpConfig(mandate_issuers={profile: jwks}))
    live.app.state.ponder.shop.catalog.import_store("acme", STORE)
    [key] = get(live, "/.well-known/ucp").json()["signing_keys"]
    agent_key = KeyStore(live.app.state.ponder.db).create("acme", "big", agent_profile=profile)[1]
    agent = f'profile="{profile}"'
    created = call(live, "POST", "/ucp/checkout-sessions", released_create(), key=agent_key, agent=agent)
    checkout = created.json()
    assert verify_detached(checkout["ap2"]["merchant_authorization"], checkout, [key])
    proof = mandate(checkout, aud=live.settings.server.base_url)
    body = {"payment_data": CARD, "risk_signals": {}, "ap2": {"checkout_mandate": proof}}
    path = f"/ucp/checkout-sessions/{checkout['id']}/complete"
    done = call(live, "POST", path, body, key=agent_key, agent=agent)
    assert done.status_code == 200 and done.json()["status"] == "completed", done.text
    assert done.json()["order"]["id"]
    again = call(live, "POST", path, body, key=agent_key, agent=agent)
    assert again.status_code == 409  # completed: nothing more to buy


def test_the_order_a_checkout_became_is_read_in_each_version(server) -> None:
    from ponder.commerce.ucp.v2026_01_11.schemas.shopping.order import Order as ReleasedOrder

    created = call(server, "POST", "/ucp/checkout-sessions", released_create(), agent=RELEASED_AGENT).json()
    path = f"/ucp/checkout-sessions/{created['id']}"
    saved = {
        "payment_data": {
            "id": "visa",
            "handler_id": "ponder_test",
            "type": "card",
            "brand": "visa",
            "last_digits": "4242",
        }
    }
    waiting = call(server, "POST", path + "/complete", saved, agent=RELEASED_AGENT).json()
    token = token_of(waiting["continue_url"])
    decided = httpx.post(
        f"{server.url}/ucp/confirm/{created['id']}", json={"token": token, "decision": "confirm"}
    )
    assert decided.status_code == 200, decided.text
    order_id = call(server, "GET", path, agent=RELEASED_AGENT).json()["order"]["id"]
    old = call(server, "GET", f"/ucp/orders/{order_id}", agent=RELEASED_AGENT)
    assert old.status_code == 200, old.text
    assert ReleasedOrder.model_validate(old.json()).checkout_id == created["id"]
    draft = call(
        server, "GET", f"/ucp/orders/{order_id}", agent=RELEASED_AGENT + ', version="2026-08-25"'
    ).json()
    assert draft["ucp"]["version"] == "2026-08-25" and draft["id"] == order_id
    assert call(server, "GET", "/ucp/orders/ord_none", agent=RELEASED_AGENT).status_code == 404
