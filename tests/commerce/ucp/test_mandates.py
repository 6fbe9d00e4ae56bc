"""AP2 checkout mandates, checked for real: a mandate signed by a key the store trusts for the agent's
platform, bound by the holder's key to this store and checkout, over the checkout the store signed, for the
cart and total it has now, in time and once, buys at ``complete``; every other one is refused with AP2's
code, and nothing is bought. Mandates are made here as a platform makes them (the OpenWallet sd-jwt
library: an issuer-signed SD-JWT and the holder's key-binding JWT)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from jwcrypto import jwk  # type: ignore[import-untyped]
from tests.commerce.ucp.test_checkouts import ANN, SHOP, STORE
from ucp_sdk.models.schemas.shopping.checkout_complete_request import (  # type: ignore[import-untyped]
    CheckoutCompleteRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_create_request import (  # type: ignore[import-untyped]
    CheckoutCreateRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_update_request import (  # type: ignore[import-untyped]
    CheckoutUpdateRequest,
)

from ponder.commerce.model import Product, Variant
from ponder.commerce.shop import Shop
from ponder.commerce.ucp import Caller, UcpCheckouts
from ponder.memory.owner import Owner
from ponder.testing.mandates import TestPlatform

BASE = "https://store.example"
PLATFORM = "https://platform.example/.well-known/ucp"
AGENT = Caller(SHOP, "ucp-agent:platform", BASE, agent=PLATFORM)
DEVICE = TestPlatform(PLATFORM)  # the platform's issuer key and its user's device
ISSUER = DEVICE.issuer
STRANGER = jwk.JWK.generate(kty="EC", crv="P-256", kid="platform-2026")  # the same kid, another key
CARD = {
    "id": "card",
    "handler_id": "ponder_test",
    "type": "card",
    "credential": {"type": "token", "token": "tok_test_visa_4242"},
}
DECLINED = CARD | {"credential": {"type": "token", "token": "tok_decline_visa"}}


def request(quantity: int = 1) -> dict[str, Any]:
    destination = {
        "id": "d1",
        "street_address": "1 Sea Road",
        "address_locality": "Porto",
        "address_country": "PT",
    }
    return {
        "line_items": [{"item": {"id": "umb"}, "quantity": quantity}],
        "buyer": {"email": ANN},
        "fulfillment": {
            "methods": [{"type": "shipping", "destinations": [destination], "selected_destination_id": "d1"}]
        },
    }


@pytest.fixture
def checkouts(shop: Shop) -> UcpCheckouts:
    shop.catalog.import_store(SHOP, STORE)
    return UcpCheckouts(
        shop.db, lambda: shop, mandate_issuers={PLATFORM: [ISSUER.export_public(as_dict=True)]}
    )


def shown(checkouts: UcpCheckouts, checkout: dict[str, Any]) -> dict[str, Any]:
    """The checkout as the platform got it: signed by the store (the server adds this to every answer)."""
    return checkout | {"ap2": {"merchant_authorization": checkouts.signing.sign(checkout)}}


def mandate(
    checkout: dict[str, Any],
    *,
    issuer: Any = ISSUER,
    exp: float | None = None,
    aud: str = BASE,
    nonce: str | None = None,
) -> str:
    """A checkout mandate as a trusted platform issues it and the user's device presents it."""
    return DEVICE.mandate(checkout, aud=aud, exp=exp, nonce=nonce, issuer=issuer)


def complete(
    checkouts: UcpCheckouts, checkout_id: str, proof: str | None, card: dict[str, Any] = CARD
) -> dict:
    body: dict[str, Any] = {"payment": {"instruments": [card]}}
    if proof is not None:
        body["ap2"] = {"checkout_mandate": proof}
    return checkouts.complete(AGENT, checkout_id, CheckoutCompleteRequest.model_validate(body)).body


def create(checkouts: UcpCheckouts, quantity: int = 1) -> dict[str, Any]:
    answer = checkouts.create(AGENT, CheckoutCreateRequest.model_validate(request(quantity)))
    assert answer.created and answer.body["status"] == "ready_for_complete", answer.body
    return answer.body


def refused_with(body: dict[str, Any]) -> str:
    assert body["status"] == "ready_for_complete", body  # nothing proposed, nothing bought
    [error] = [m for m in body["messages"] if m["type"] == "error"]
    assert error["path"] == "$.ap2.checkout_mandate"
    return str(error["code"])


def orders(shop: Shop) -> list[Any]:
    return shop.orders.list_orders(Owner(SHOP, ANN))


def test_a_valid_mandate_is_the_persons_confirmation_and_buys_at_complete(checkouts, shop) -> None:
    checkout = create(checkouts)
    done = complete(checkouts, checkout["id"], mandate(shown(checkouts, checkout)))
    assert done["status"] == "completed", done.get("messages")
    [order] = orders(shop)
    assert done["order"]["id"] == order["id"] and order["total"] == 2500
    assert len(shop.provider.charges()) == 1


def test_without_a_mandate_the_person_still_confirms(checkouts, shop) -> None:
    checkout = create(checkouts)
    assert complete(checkouts, checkout["id"], None)["status"] == "requires_escalation"
    assert orders(shop) == []


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda c, s: mandate(s, issuer=STRANGER), "mandate_invalid_signature"),  # a key not trusted
        (lambda c, s: mandate(s, aud="https://other-store.example"), "mandate_invalid_signature"),
        (lambda c, s: mandate(s, nonce="chk_other"), "mandate_invalid_signature"),  # bound elsewhere
        (lambda c, s: mandate(s, exp=time.time() - 1), "mandate_expired"),
        (lambda c, s: mandate(c), "merchant_authorization_invalid"),  # terms the store never signed
        (  # a total the store never signed: its signature no longer covers it
            lambda c, s: mandate(s | {"totals": [{"type": "total", "amount": 1}]}),
            "merchant_authorization_invalid",
        ),
        (lambda c, s: mandate(s)[:-8] + "AAAAAAAA", "mandate_invalid_signature"),  # a tampered signature
        (lambda c, s: "header.payload.signature~kb_signature", "mandate_invalid_signature"),
    ],
)
def test_a_mandate_that_does_not_prove_this_checkout_is_refused(checkouts, shop, make, code) -> None:
    checkout = create(checkouts)
    assert (
        refused_with(complete(checkouts, checkout["id"], make(checkout, shown(checkouts, checkout)))) == code
    )
    assert orders(shop) == [] and shop.provider.charges() == []


def test_a_mandate_for_another_cart_or_amount_than_the_checkout_has_now_is_refused(checkouts, shop) -> None:
    checkout = create(checkouts)
    proof = mandate(shown(checkouts, checkout))
    checkouts.update(AGENT, checkout["id"], CheckoutUpdateRequest.model_validate(request(quantity=2)))
    assert refused_with(complete(checkouts, checkout["id"], proof)) == "mandate_scope_mismatch"

    other = create(checkouts)
    proof = mandate(shown(checkouts, other))
    dearer = Product("umbrella", "Beach umbrella", (Variant("umb", "umbrella", {}, 2900, stock=3),))
    shop.catalog.import_store(
        SHOP, dataclasses.replace(STORE, products=(dearer, *STORE.products[1:]))
    )  # repriced
    assert refused_with(complete(checkouts, other["id"], proof)) == "mandate_scope_mismatch"
    assert orders(shop) == []


def test_a_declined_card_is_refused_before_the_mandate_is_used(checkouts, shop) -> None:
    checkout = create(checkouts)
    proof = mandate(shown(checkouts, checkout))
    declined = complete(checkouts, checkout["id"], proof, DECLINED)  # the provider vets the token first
    assert declined["status"] == "ready_for_complete" and orders(shop) == []
    assert complete(checkouts, checkout["id"], proof)["status"] == "completed"  # not used up by that


def test_a_mandate_buys_once_even_when_its_first_use_failed(checkouts, shop, monkeypatch) -> None:
    monkeypatch.delattr(type(shop.provider), "check")  # a provider that cannot vet a token beforehand
    checkout = create(checkouts)
    proof = mandate(shown(checkouts, checkout))
    failed = complete(checkouts, checkout["id"], proof, DECLINED)  # used: the card declined at the charge
    assert failed["status"] == "ready_for_complete" and orders(shop) == []
    assert refused_with(complete(checkouts, checkout["id"], proof)) == "mandate_reused"


def test_an_agent_of_a_platform_the_store_does_not_trust_cannot_buy_with_a_mandate(shop) -> None:
    shop.catalog.import_store(SHOP, STORE)
    untrusting = UcpCheckouts(shop.db, lambda: shop)  # no [ucp.mandate_issuers]
    checkout = create(untrusting)
    assert refused_with(complete(untrusting, checkout["id"], mandate(shown(untrusting, checkout)))) == (
        "agent_missing_key"
    )
