"""Payment handlers a store configures besides its own (``[[commerce.payment_handlers]]``), over HTTP: both
versions' profiles and checkouts list them, an agent pays with one, and the order is charged, and refunded,
through the provider that handler maps to, never the store's default one."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.server.conftest import LiveServer
from tests.server.test_ucp import ANN, STORE, call, shop
from tests.server.test_ucp_versions import RELEASED_AGENT, released_create

from ponder.commerce.agent_actions import agent_proposals
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.ucp.v2026_01_11.discovery.profile_schema import UcpDiscoveryProfile
from ponder.commerce.ucp.v2026_01_11.schemas.shopping.fulfillment_resp import Checkout as ReleasedCheckout
from ponder.config import CommerceConfig, PaymentHandlerConfig
from ponder.memory.owner import Owner
from ponder.store import KeyStore

WALLET = PaymentHandlerConfig(
    id="wallet_pay",
    name="com.example.wallet",
    provider="wallet",
    spec="https://wallet.example/ucp/handler/",
    config_schema="https://wallet.example/ucp/handler/config.json",
    instrument_schemas=["https://ucp.dev/schemas/shopping/types/card_payment_instrument.json"],
    config={"merchant_id": "m-123", "environment": "TEST"},
)
PAID_WITH_WALLET = {
    "id": "instr_w",
    "handler_id": "wallet_pay",
    "type": "card",
    "brand": "visa",
    "last_digits": "4242",
    "credential": {"type": "token", "token": "tok_test_wallet_4242"},
}


@pytest.fixture
def server(start_server) -> LiveServer:
    commerce = CommerceConfig(payment_providers={"wallet": "test"}, payment_handlers=[WALLET])
    live: LiveServer = start_server(commerce=commerce)
    live.app.state.ponder.shop.catalog.import_store("acme", STORE)
    return live


def test_both_versions_publish_the_configured_handler_after_the_stores_own(server) -> None:
    released = call(server, "GET", "/.well-known/ucp", agent=RELEASED_AGENT).json()
    handlers = UcpDiscoveryProfile.model_validate(released).payment.handlers
    assert [h.id for h in handlers] == ["ponder_test", "wallet_pay"]
    wallet = handlers[1]
    assert wallet.name == "com.example.wallet" and str(wallet.spec) == WALLET.spec
    assert str(wallet.config_schema) == WALLET.config_schema and wallet.config == WALLET.config

    draft = call(server, "GET", "/.well-known/ucp", agent=RELEASED_AGENT + ', version="2026-08-25"').json()
    [published] = draft["ucp"]["payment_handlers"]["com.example.wallet"]
    assert published["id"] == "wallet_pay" and published["config"] == WALLET.config
    assert published["available_instruments"] == [{"type": "card"}]
    assert [h["id"] for h in draft["ucp"]["payment_handlers"]["dev.ponder.payment_token"]] == ["ponder_test"]


def test_an_order_paid_with_the_handler_is_charged_and_refunded_by_its_provider(server) -> None:
    agent = KeyStore(server.app.state.ponder.db).create(
        "acme", "big", agent_profile="https://agent.example/.well-known/ucp"
    )[1]
    created = call(
        server, "POST", "/ucp/checkout-sessions", released_create(), key=agent, agent=RELEASED_AGENT
    )
    assert created.status_code == 201, created.text
    assert [h.id for h in ReleasedCheckout.model_validate(created.json()).payment.handlers] == [
        "ponder_test",
        "wallet_pay",
    ]
    path = f"/ucp/checkout-sessions/{created.json()['id']}/complete"
    done = call(server, "POST", path, {"payment_data": PAID_WITH_WALLET}, key=agent, agent=RELEASED_AGENT)
    assert done.status_code == 200 and done.json()["status"] == "requires_escalation", done.text

    ann = Owner("acme", ANN)
    [held] = agent_proposals(server.app.state.ponder.db, ann).values()
    shop(server).actions.confirm(ann, held.action_id, held.token)  # Ann confirms on the store's own app
    [order] = shop(server).orders.list_orders(ann)

    wallet = TestPaymentProvider(Path(server.settings.data_dir) / "test-payments-wallet.db")
    default = TestPaymentProvider(Path(server.settings.data_dir) / "test-payments.db")
    [charge] = wallet.charges()
    assert charge.amount == order["total"] and default.charges() == []
    assert wallet.charge_token(charge.id) == "tok_test_wallet_4242"
    assert [p["reference"] for p in order["payments"]] == [
        f"@wallet:{charge.id}"
    ]  # the provider it came from

    cancel, token = shop(server).actions.propose_cancel(ann, order["id"], "changed my mind")
    shop(server).actions.confirm(ann, cancel.id, token)
    assert [(r.charge_id, r.amount) for r in wallet.refunds()] == [(charge.id, order["total"])]
    assert default.refunds() == []


def test_an_instrument_of_an_unknown_handler_is_refused_naming_the_ones_taken(server) -> None:
    created = call(server, "POST", "/ucp/checkout-sessions", released_create(), agent=RELEASED_AGENT)
    path = f"/ucp/checkout-sessions/{created.json()['id']}/complete"
    unknown = PAID_WITH_WALLET | {"handler_id": "google_pay"}
    refused = call(server, "POST", path, {"payment_data": unknown}, agent=RELEASED_AGENT)
    assert refused.status_code == 402, refused.text  # 2026-01-11: a complete whose payment failed
    assert "'ponder_test', 'wallet_pay'" in refused.json()["messages"][0]["content"]
    assert shop(server).orders.list_orders(Owner("acme", ANN)) == []
