"""The store's checkouts in the released UCP 2026-01-11 shapes, and 2026-01-11 requests read as the store's
own: each checked here against the models generated from that release's schemas (``v2026_01_11``), on
checkouts the real state machine wrote."""

from __future__ import annotations

from typing import Any

import pytest
from tests.commerce.ucp.test_checkouts import ANN, APP, SHOP, STORE
from ucp_sdk.models.schemas.shopping.checkout_complete_request import (  # type: ignore[import-untyped]
    CheckoutCompleteRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_create_request import (  # type: ignore[import-untyped]
    CheckoutCreateRequest,
)

from ponder.commerce.payment_handlers import builtin
from ponder.commerce.shop import Shop
from ponder.commerce.ucp import UcpCheckouts
from ponder.commerce.ucp import shapes_2026_01_11 as released
from ponder.commerce.ucp.errors import InvalidCheckoutRequest
from ponder.commerce.ucp.v2026_01_11.discovery.profile_schema import UcpDiscoveryProfile
from ponder.commerce.ucp.v2026_01_11.schemas.shopping.fulfillment_resp import Checkout as ReleasedCheckout

BASE = "https://store.example"
CARD = {
    "id": "instr_1",
    "handler_id": "ponder_test",
    "type": "card",
    "brand": "Visa",
    "last_digits": "4242",
    "credential": {"type": "token", "token": "tok_test_visa_4242"},
    "billing_address": {"street_address": "1 Main St", "address_country": "US"},
}


def released_create(**extra: Any) -> dict[str, Any]:
    return {
        "line_items": [{"item": {"id": "umb", "title": "Beach umbrella"}, "quantity": 2}],
        "buyer": {"email": ANN, "full_name": "Ann Sea"},
        "currency": "EUR",
        "payment": {"instruments": [CARD], "selected_instrument_id": "instr_1"},
    } | extra


@pytest.fixture
def checkouts(shop: Shop) -> UcpCheckouts:
    shop.catalog.import_store(SHOP, STORE)
    return UcpCheckouts(shop.db, lambda: shop)


def test_the_profile_is_a_released_discovery_profile_with_the_rest_endpoint_and_handler() -> None:
    body = released.profile(BASE, [builtin("test")])
    profile = UcpDiscoveryProfile.model_validate(body)
    assert profile.ucp.version.root == "2026-01-11"
    shopping = profile.ucp.services.root["dev.ucp.shopping"]
    assert str(shopping.rest.endpoint) == f"{BASE}/ucp"
    names = [c.model_dump(exclude_none=True)["name"] for c in profile.ucp.capabilities]
    assert names == [
        "dev.ucp.shopping.checkout",
        "dev.ucp.shopping.fulfillment",
        "dev.ucp.shopping.discount",
        "dev.ucp.shopping.buyer_consent",
        "dev.ucp.shopping.ap2_mandate",
        "dev.ucp.shopping.order",
    ]
    [handler] = body["payment"]["handlers"]
    assert handler["id"] == "ponder_test" and handler["name"] == "dev.ponder.payment_token"
    assert handler["config_schema"] == f"{BASE}/ucp/payment-handlers/dev.ponder.payment_token/config.json"


def test_a_released_create_reaches_the_state_machine_and_comes_back_in_released_shapes(checkouts) -> None:
    canonical = released.create_request(released_create())
    assert "currency" not in canonical  # the store's currency prices it; the answer says which
    [instrument] = canonical["payment"]["instruments"]
    assert instrument["selected"] and instrument["display"] == {"brand": "Visa", "last_digits": "4242"}
    answer = checkouts.create(APP, CheckoutCreateRequest.model_validate(canonical))
    assert answer.created, answer.body
    body = released.checkout(answer.body, BASE, [builtin("test")])
    ReleasedCheckout.model_validate(body)  # what checkout() already checked, seen from outside
    assert body["ucp"] == {
        "version": "2026-01-11",
        "capabilities": [
            {"name": "dev.ucp.shopping.checkout", "version": "2026-01-11"},
            {
                "name": "dev.ucp.shopping.fulfillment",
                "version": "2026-01-11",
                "extends": "dev.ucp.shopping.checkout",
            },
            {
                "name": "dev.ucp.shopping.discount",
                "version": "2026-01-11",
                "extends": "dev.ucp.shopping.checkout",
            },
            {
                "name": "dev.ucp.shopping.buyer_consent",
                "version": "2026-01-11",
                "extends": "dev.ucp.shopping.checkout",
            },
            {
                "name": "dev.ucp.shopping.ap2_mandate",
                "version": "2026-01-11",
                "extends": "dev.ucp.shopping.checkout",
            },
        ],
    }
    assert body["totals"][-1] == {"type": "total", "amount": 5000} and body["currency"] == "EUR"
    payment = body["payment"]
    assert [h["id"] for h in payment["handlers"]] == ["ponder_test"]
    # Ann's saved card, offered to her app; what pays is taken at complete (then echoed as selected).
    assert payment["instruments"] == [
        {"id": "visa", "handler_id": "ponder_test", "type": "card", "brand": "visa", "last_digits": "4242"}
    ]
    assert "selected_instrument_id" not in payment


def test_a_released_complete_sends_payment_data_read_as_the_one_selected_instrument() -> None:
    canonical = released.complete_request({"payment_data": CARD, "risk_signals": {}})
    request = CheckoutCompleteRequest.model_validate(canonical)
    [instrument] = request.payment.instruments
    assert instrument.selected and instrument.credential.type == "token"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({k: v for k, v in released_create().items() if k != "currency"}, "currency"),
        ({k: v for k, v in released_create().items() if k != "payment"}, "payment"),
        (released_create(line_items=[{"item": {"id": "umb"}, "quantity": 0}]), "quantity"),
        ("not an object", "create"),
    ],
)
def test_a_create_off_the_released_schema_is_refused_naming_what(body, says) -> None:
    with pytest.raises(InvalidCheckoutRequest, match=says):
        released.create_request(body)


def test_an_update_names_its_checkout_and_a_complete_needs_payment_data() -> None:
    update = released_create(id="chk_1", line_items=[{"item": {"id": "umb"}, "id": "li_1", "quantity": 1}])
    assert released.update_request(update, "chk_1")["line_items"][0]["quantity"] == 1
    with pytest.raises(InvalidCheckoutRequest, match="not this checkout's"):
        released.update_request(update, "chk_2")
    with pytest.raises(InvalidCheckoutRequest, match="payment_data"):
        released.complete_request({"payment": {"instruments": [CARD]}})


def test_errors_are_status_and_messages_with_released_severities() -> None:
    body = released.error_body(
        [{"type": "error", "code": "x", "content": "No.", "severity": "unrecoverable"}]
    )
    assert body == {
        "status": "requires_escalation",
        "messages": [{"type": "error", "code": "x", "content": "No.", "severity": "requires_buyer_input"}],
    }
