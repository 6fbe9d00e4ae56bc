"""A buyer's consent through a checkout: an agent's withdrawals count at once, its grants only once the
person confirms the order that showed them; either UCP version's spelling is read and written back."""

from __future__ import annotations

from typing import Any

import pytest
from tests.commerce.ucp.test_checkouts import AGENT, ANN, APP, SHOP, STORE, VISA
from ucp_sdk.models.schemas.shopping.checkout_complete_request import (  # type: ignore[import-untyped]
    CheckoutCompleteRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_create_request import (  # type: ignore[import-untyped]
    CheckoutCreateRequest,
)

from ponder.commerce.agent_actions import agent_proposals
from ponder.commerce.consent import ConsentLedger
from ponder.commerce.payment_handlers import builtin
from ponder.commerce.shop import Shop
from ponder.commerce.ucp import UcpCheckouts
from ponder.commerce.ucp import shapes_2026_01_11 as released
from ponder.commerce.ucp.errors import InvalidCheckoutRequest
from ponder.memory.owner import Owner

OWNER = Owner(SHOP, ANN)
DRAFT_CONSENT = {
    "dev.ucp.consent.marketing": {"granted": True, "source": "platform", "description": "Offers"},
    "dev.ucp.consent.analytics": {"granted": False, "source": "platform", "description": "Analytics"},
}
PIER = {"id": "p", "street_address": "9 Pier Lane", "address_locality": "Faro", "address_country": "PT"}
CARD = {
    "id": "c",
    "handler_id": "ponder_test",
    "type": "card",
    "credential": {"type": "token", "token": "tok_test_visa_4242"},
}


@pytest.fixture
def checkouts(shop: Shop) -> UcpCheckouts:
    shop.catalog.import_store(SHOP, STORE)
    return UcpCheckouts(shop.db, lambda: shop)


def request(consent: Any) -> dict[str, Any]:
    method = {"type": "shipping", "destinations": [PIER], "selected_destination_id": "p"}
    return {
        "line_items": [{"item": {"id": "umb"}, "quantity": 1}],
        "buyer": {"email": ANN, "consent": consent},
        "fulfillment": {"methods": [method]},
    }


def test_an_agent_withdraws_at_once_and_grants_only_with_the_persons_confirmation(checkouts, shop) -> None:
    ledger = ConsentLedger(shop.db)
    checkout = checkouts.create(AGENT, CheckoutCreateRequest.model_validate(request(DRAFT_CONSENT))).body
    assert checkout["buyer"]["consent"]["dev.ucp.consent.marketing"]["granted"] is True  # echoed
    assert ledger.current(OWNER) == {"analytics": False}  # the withdrawal only, for now

    complete = CheckoutCompleteRequest.model_validate({"payment": {"instruments": [CARD]}})
    assert checkouts.complete(AGENT, checkout["id"], complete).body["status"] == "requires_escalation"
    [held] = agent_proposals(shop.db, OWNER).values()
    [action] = shop.actions.list_actions(OWNER)
    assert "Consent: marketing yes, analytics no." in action.summary  # the person sees what they grant
    shop.actions.confirm(OWNER, held.action_id, held.token)
    assert ledger.current(OWNER) == {"analytics": False, "marketing": True}


def test_a_declined_order_grants_nothing(checkouts, shop) -> None:
    checkout = checkouts.create(APP, CheckoutCreateRequest.model_validate(request(DRAFT_CONSENT))).body
    complete = CheckoutCompleteRequest.model_validate({"payment": {"instruments": [VISA]}})
    token = checkouts.complete(APP, checkout["id"], complete).body["continue_url"].split("#token=")[1]
    checkouts.decide(checkout["id"], token, False, APP.base_url)
    assert ConsentLedger(shop.db).current(OWNER) == {"analytics": False}


def test_2026_01_11_consent_is_a_yes_or_no_per_purpose_both_ways(checkouts) -> None:
    old = request({"marketing": False, "sale_of_data": False, "unknown_purpose": True})
    body = released.create_request(old | {"currency": "EUR", "payment": {}})
    checkout = checkouts.create(APP, CheckoutCreateRequest.model_validate(body)).body
    written = released.checkout(checkout, APP.base_url, [builtin("test")])
    assert written["buyer"]["consent"] == {"marketing": False, "sale_of_data": False}
    with pytest.raises(InvalidCheckoutRequest, match="true or false"):
        checkouts.create(APP, CheckoutCreateRequest.model_validate(request({"marketing": "yes"})))


def test_ucp_names_every_purpose_the_store_keeps_and_no_other() -> None:
    from ponder.commerce.consent import PURPOSES
    from ponder.commerce.ucp.document import CONSENT_PURPOSES

    assert set(CONSENT_PURPOSES) == set(PURPOSES)
