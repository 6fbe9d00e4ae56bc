"""The UCP checkout-session state machine on the commerce side: it answers documents (``Answer``) and
refuses with PonderErrors, with no HTTP in sight (the HTTP mapping: tests/server/test_ucp*.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from ucp_sdk.models.schemas.shopping.checkout_complete_request import (  # type: ignore[import-untyped]
    CheckoutCompleteRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_create_request import (  # type: ignore[import-untyped]
    CheckoutCreateRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_update_request import (  # type: ignore[import-untyped]
    CheckoutUpdateRequest,
)

from ponder.commerce.model import Address, Customer, PaymentMethod, Product, StoreData, Variant
from ponder.commerce.shop import Shop
from ponder.commerce.ucp import Answer, Caller, UcpCheckouts
from ponder.commerce.ucp.errors import (
    CheckoutConflict,
    CheckoutFinished,
    CheckoutNotFound,
    InvalidCheckoutRequest,
    UnsellableLines,
)
from ponder.errors import ConflictError, NotFoundError
from ponder.memory.owner import Owner

SHOP, ANN = "acme", "ann@example.com"
STORE = StoreData(
    name="Coast",
    currency="EUR",
    products=(
        Product("umbrella", "Beach umbrella", (Variant("umb", "umbrella", {}, 2500, stock=3),)),
        Product("shirt", "Shirt", (Variant("shirt-l", "shirt", {"size": "L"}, 4500, stock=0),)),
    ),
    customers=(
        Customer(
            ANN,
            addresses=(Address("home", "1 Sea Road", "Porto", "PT"),),
            payment_methods=(PaymentMethod("visa", "card", "tok_test_visa_4242", "visa", "4242"),),
        ),
    ),
)
APP = Caller(SHOP, "key_app", "https://store.example")
AGENT = Caller(SHOP, "key_agent", "https://store.example", agent="https://agent.example/.well-known/ucp")
VISA = {"id": "visa", "handler_id": "ponder_test", "type": "card"}


def created(checkouts: UcpCheckouts, caller: Caller = APP, **body: Any) -> dict[str, Any]:
    body = {"line_items": [{"item": {"id": "umb"}, "quantity": 1}], "buyer": {"email": ANN}} | body
    answer = checkouts.create(caller, CheckoutCreateRequest.model_validate(body))
    assert isinstance(answer, Answer) and answer.created, answer.body
    return answer.body


@pytest.fixture
def checkouts(shop: Shop) -> UcpCheckouts:
    shop.catalog.import_store(SHOP, STORE)
    return UcpCheckouts(shop.db, lambda: shop)


def test_create_answers_a_priced_checkout_and_get_reads_it_back(checkouts) -> None:
    body = created(checkouts)
    assert body["status"] == "ready_for_complete", body.get("messages")
    assert body["totals"][-1] == {"type": "total", "amount": 2500}
    again = checkouts.get(APP, body["id"])
    assert again == Answer(body) and not again.created


def test_a_create_that_prices_nothing_is_an_error_document_not_a_session(checkouts) -> None:
    request = CheckoutCreateRequest.model_validate(
        {"line_items": [{"item": {"id": "shirt-l"}, "quantity": 1}]}
    )
    answer = checkouts.create(APP, request)
    assert not answer.created and answer.body["ucp"]["status"] == "error"
    assert answer.body["messages"][0]["code"] == "out_of_stock"  # the one size L shirt is sold out


def test_refusals_are_ponder_errors_carrying_ucp_codes(checkouts) -> None:
    with pytest.raises(CheckoutNotFound) as unknown:
        checkouts.get(APP, "chk_nope")
    assert isinstance(unknown.value, NotFoundError) and unknown.value.code == "not_found"
    body = created(checkouts)
    with pytest.raises(CheckoutNotFound):  # an agent never sees an account key's checkout
        checkouts.get(AGENT, body["id"])
    absurd = {"line_items": [{"item": {"id": "umb"}, "quantity": 2_000_000}], "buyer": {"email": ANN}}
    with pytest.raises(InvalidCheckoutRequest):
        checkouts.update(APP, body["id"], CheckoutUpdateRequest.model_validate(absurd))
    too_many = {"line_items": [{"item": {"id": "umb"}, "quantity": 1000}], "buyer": {"email": ANN}}
    short = checkouts.update(APP, body["id"], CheckoutUpdateRequest.model_validate(too_many)).body
    [message] = [m for m in short["messages"] if m["code"] == "out_of_stock"]  # the line's own problem
    assert "Insufficient stock" in message["content"] and short["status"] == "incomplete"
    with pytest.raises(UnsellableLines) as strict:  # where such a request is refused (2026-01-11)
        checkouts.update(APP, body["id"], CheckoutUpdateRequest.model_validate(too_many), strict=True)
    assert strict.value.code == "out_of_stock" and isinstance(strict.value, InvalidCheckoutRequest)
    assert checkouts.cancel(APP, body["id"]).body["status"] == "canceled"
    with pytest.raises(CheckoutFinished) as finished:
        checkouts.cancel(APP, body["id"])
    assert isinstance(finished.value, ConflictError) and finished.value.code == "checkout_finished"


def test_complete_proposes_and_the_person_confirms_through_the_state_machine(checkouts, shop) -> None:
    body = created(checkouts)
    request = CheckoutCompleteRequest.model_validate({"payment": {"instruments": [VISA]}})
    waiting = checkouts.complete(APP, body["id"], request).body
    assert waiting["status"] == "requires_escalation"
    token = waiting["continue_url"].split("#token=")[1]
    assert checkouts.decide(body["id"], token, True, APP.base_url)["status"] == "completed"
    done = checkouts.get(APP, body["id"]).body
    assert done["status"] == "completed" and shop.orders.list_orders(Owner(SHOP, ANN))
    with pytest.raises(CheckoutNotFound):  # a wrong token is the same answer as no checkout
        checkouts.review(body["id"], "x" * 43, APP.base_url)


def test_once_replays_answers_and_refusals_and_a_changed_body_is_a_conflict(checkouts) -> None:
    calls: list[int] = []

    def work() -> Answer:
        calls.append(1)
        return Answer({"id": "chk_1"}, created=True)

    first = checkouts.once(APP, "create", "k1", "/ucp/checkout-sessions", b"{}", work)
    assert checkouts.once(APP, "create", "k1", "/ucp/checkout-sessions", b"{}", work) == first
    assert first.created and len(calls) == 1
    with pytest.raises(CheckoutConflict) as reused:
        checkouts.once(APP, "create", "k1", "/ucp/checkout-sessions", b"{1}", work)
    assert reused.value.code == "idempotency_conflict" and reused.value.retry_after is None

    def refused() -> Answer:
        raise CheckoutFinished("This checkout is canceled.")

    for _ in range(2):  # the refusal is the stored outcome: raised again, not redone
        with pytest.raises(CheckoutFinished, match="canceled"):
            checkouts.once(APP, "cancel", "k2", "/ucp/x/cancel", b"", refused)


def test_a_passing_conflict_is_not_stored_so_the_retry_runs(checkouts) -> None:
    def busy() -> Answer:
        raise CheckoutConflict("The checkout is changing; retry.", retry_after=1.0)

    with pytest.raises(CheckoutConflict):
        checkouts.once(APP, "update", "k3", "/p", b"", busy)
    answer = checkouts.once(APP, "update", "k3", "/p", b"", lambda: Answer({"id": "chk_2"}))
    assert answer == Answer({"id": "chk_2"})


def test_a_key_finished_before_the_split_replays_its_stored_http_answer(checkouts) -> None:
    owner, name = Owner(SHOP, "ucp:" + APP.client), "create:old"
    checkouts.keys.claim(owner, name, {"path": "/p", "sha256": hashlib.sha256(b"").hexdigest()})
    with checkouts.db.transaction(lock=checkouts.keys.lock_name(owner, name)) as db:
        checkouts.keys.finish(db, owner, name, {"status": 201, "body": {"id": "chk_old"}})  # the old shape
    replayed = checkouts.once(APP, "create", "old", "/p", b"", lambda: Answer({}))
    assert replayed == Answer({"id": "chk_old"}, created=True)
    name, finished = "cancel:old", {"ucp": {"status": "error"}, "messages": [{"code": "checkout_finished"}]}
    checkouts.keys.claim(owner, name, {"path": "/p", "sha256": hashlib.sha256(b"").hexdigest()})
    with checkouts.db.transaction(lock=checkouts.keys.lock_name(owner, name)) as db:
        checkouts.keys.finish(db, owner, name, {"status": 409, "body": finished})
    with pytest.raises(CheckoutFinished):
        checkouts.once(APP, "cancel", "old", "/p", b"", lambda: Answer({}))


def test_a_saved_address_sent_again_is_that_address_by_its_saved_id(checkouts, shop) -> None:
    home = {"id": "p1", "street_address": "1 sea road", "address_locality": "PORTO", "address_country": "PT"}
    method = {"type": "shipping", "destinations": [home], "selected_destination_id": "p1"}
    body = {"line_items": [{"item": {"id": "umb"}, "quantity": 1}], "buyer": {"email": ANN}}
    checkout = checkouts.create(
        APP, CheckoutCreateRequest.model_validate(body | {"fulfillment": {"methods": [method]}})
    ).body
    [shipping] = checkout["fulfillment"]["methods"]
    assert [d["id"] for d in shipping["destinations"]] == ["home"]  # Ann's saved one, not a copy
    assert shipping["selected_destination_id"] == "home"
    as_agent = checkouts.create(
        AGENT, CheckoutCreateRequest.model_validate(body | {"fulfillment": {"methods": [method]}})
    ).body
    [agents] = as_agent["fulfillment"]["methods"]
    assert agents["destinations"][0]["id"] != "home"  # an agent never learns what the buyer saved
    assert len(shop.customers.addresses(Owner(SHOP, ANN))) == 1


def test_a_platforms_destination_keeps_its_id_unless_it_names_a_saved_address_elsewhere(
    checkouts, shop
) -> None:
    body = {"line_items": [{"item": {"id": "umb"}, "quantity": 1}], "buyer": {"email": ANN}}
    elsewhere = {
        "id": "home",
        "street_address": "2 Other St",
        "address_locality": "Braga",
        "address_country": "PT",
    }
    method = {"type": "shipping", "destinations": [elsewhere], "selected_destination_id": "home"}
    checkout = checkouts.create(
        APP, CheckoutCreateRequest.model_validate(body | {"fulfillment": {"methods": [method]}})
    ).body
    [shipping] = checkout["fulfillment"]["methods"]
    ids = {d["id"]: d.get("address_locality") for d in shipping["destinations"]}
    assert ids["home"] == "Porto"  # Ann's saved home is not shadowed by the platform's "home"
    renamed = next(i for i, city in ids.items() if city == "Braga")
    assert renamed.startswith("dest_") and shipping["selected_destination_id"] == renamed
    mine = dict(elsewhere, id="new-1")
    method = {"type": "shipping", "destinations": [mine], "selected_destination_id": "new-1"}
    kept = checkouts.create(
        AGENT, CheckoutCreateRequest.model_validate(body | {"fulfillment": {"methods": [method]}})
    )
    assert kept.body["fulfillment"]["methods"][0]["destinations"][0]["id"] == "new-1"


PIER = {"id": "p", "street_address": "9 Pier Lane", "address_locality": "Faro", "address_country": "PT"}
TO_FARO = {"methods": [{"type": "shipping", "destinations": [PIER]}]}  # an agent's own destination


@pytest.mark.parametrize(
    ("credential", "says"),
    [
        ({"type": "card", "number": "4242424242424242", "expiry_month": 12, "cvc": "123"}, "Card numbers"),
        (
            {"type": "token", "token": "tok_test_visa", "binding": {"checkout_id": "chk_other"}},
            "bound to another",
        ),
        ({"type": "token", "token": "tok_decline_visa"}, "declined"),  # the provider vets it first
        ({"type": "token", "token": "made-up"}, "does not know"),
    ],
)
def test_a_credential_the_store_cannot_use_is_refused_at_complete(checkouts, shop, credential, says) -> None:
    body = created(checkouts, AGENT, fulfillment=TO_FARO)
    instrument = {"id": "i", "handler_id": "ponder_test", "type": "card", "credential": credential}
    request = CheckoutCompleteRequest.model_validate({"payment": {"instruments": [instrument]}})
    answer = checkouts.complete(AGENT, body["id"], request).body
    assert answer["status"] == "ready_for_complete"
    assert any(m["code"] == "payment_failed" and says in m["content"] for m in answer["messages"]), answer
    assert shop.actions.list_actions(Owner(SHOP, ANN)) == []


def test_a_token_bound_to_this_checkout_is_taken(checkouts) -> None:
    body = created(checkouts, AGENT, fulfillment=TO_FARO)
    bound = {"type": "stripe_token", "token": "tok_test_visa", "binding": {"checkout_id": body["id"]}}
    instrument = {"id": "i", "handler_id": "ponder_test", "type": "card", "credential": bound}
    request = CheckoutCompleteRequest.model_validate({"payment": {"instruments": [instrument]}})
    assert checkouts.complete(AGENT, body["id"], request).body["status"] == "requires_escalation"
