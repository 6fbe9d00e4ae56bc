"""A UCP checkout priced with the store's rules: discount codes (UCP's discount extension: applied in order,
each with where it landed; a code not applied is a warning, the codes echoed back), shipping options to the
destination (the cheapest chosen until the platform chooses), and the person confirming exactly the total
the checkout showed, which the order is then placed at."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from tests.commerce.ucp.test_checkouts import ANN, APP, SHOP, STORE, VISA
from ucp_sdk.models.schemas.shopping.checkout_complete_request import (  # type: ignore[import-untyped]
    CheckoutCompleteRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_create_request import (  # type: ignore[import-untyped]
    CheckoutCreateRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_update_request import (  # type: ignore[import-untyped]
    CheckoutUpdateRequest,
)

from ponder.commerce.model import DiscountCode, Promotion, ShippingOption
from ponder.commerce.shop import Shop
from ponder.commerce.ucp import UcpCheckouts
from ponder.memory.owner import Owner

PRICED_STORE = dataclasses.replace(
    STORE,
    discount_codes=(DiscountCode("TENOFF", "percentage", 10), DiscountCode("FIVE", "fixed_amount", 500)),
    shipping_options=(
        ShippingOption("std", "Standard", 600, service_level="standard"),
        ShippingOption("exp", "Express", 1500, service_level="express"),
        ShippingOption("us-std", "US standard", 900, ("US",), "standard"),
    ),
    promotions=(Promotion("free", "free_shipping", "Free shipping over 70", min_subtotal=7000),),
)
PORTO = {"id": "d1", "street_address": "1 Sea Road", "address_locality": "Porto", "address_country": "PT"}


def body(quantity: int = 2, codes: list[str] | None = None, option: str | None = None, **more: Any) -> Any:
    method: dict[str, Any] = {"type": "shipping", "destinations": [PORTO], "selected_destination_id": "d1"}
    if option:
        method["groups"] = [{"id": "package_1", "selected_option_id": option}]
    request = {
        "line_items": [{"item": {"id": "umb"}, "quantity": quantity}],
        "buyer": {"email": ANN},
        "fulfillment": {"methods": [method]},
    } | more
    if codes is not None:
        request["discounts"] = {"codes": codes}
    return request


@pytest.fixture
def checkouts(shop: Shop) -> UcpCheckouts:
    shop.catalog.import_store(SHOP, PRICED_STORE)
    return UcpCheckouts(shop.db, lambda: shop)


def totals(checkout: dict[str, Any]) -> dict[str, int]:
    return {t["type"]: t["amount"] for t in checkout["totals"]}


def test_codes_apply_in_order_with_allocations_and_an_unknown_one_is_a_warning(checkouts) -> None:
    created = checkouts.create(
        APP, CheckoutCreateRequest.model_validate(body(codes=["tenoff", "NOPE", "FIVE"]))
    )
    checkout = created.body
    # 2 x 25.00 = 5000; 10% = 500, then 500 off what is left; standard shipping to Portugal, 600.
    assert totals(checkout) == {
        "subtotal": 5000,
        "items_discount": -1000,
        "fulfillment": 600,
        "total": 4600,
    }
    discounts = checkout["discounts"]
    assert discounts["codes"] == ["tenoff", "NOPE", "FIVE"]  # echoed as sent
    assert [(d["code"], d["amount"], d["priority"]) for d in discounts["applied"]] == [
        ("TENOFF", 500, 1),
        ("FIVE", 500, 2),
    ]
    assert all(sum(a["amount"] for a in d["allocations"]) == d["amount"] for d in discounts["applied"])
    [warning] = [m for m in checkout["messages"] if m["type"] == "warning"]
    assert warning["code"] == "discount_code_invalid" and warning["path"] == "$.discounts.codes[1]"
    assert checkout["status"] == "ready_for_complete"  # a code not applied blocks nothing
    line = checkout["line_items"][0]
    assert {t["type"]: t["amount"] for t in line["totals"]} == {
        "subtotal": 5000,
        "items_discount": -1000,
        "total": 4000,
    }


def test_codes_are_kept_by_an_update_that_does_not_send_them_and_cleared_by_an_empty_list(checkouts) -> None:
    checkout_id = checkouts.create(APP, CheckoutCreateRequest.model_validate(body(codes=["FIVE"]))).body["id"]
    kept = checkouts.update(APP, checkout_id, CheckoutUpdateRequest.model_validate(body(quantity=1))).body
    assert totals(kept)["items_discount"] == -500
    cleared = checkouts.update(APP, checkout_id, CheckoutUpdateRequest.model_validate(body(codes=[]))).body
    assert "items_discount" not in totals(cleared) and cleared["discounts"]["applied"] == []


def test_the_options_to_the_destination_are_offered_and_the_chosen_one_charged(checkouts) -> None:
    checkout = checkouts.create(APP, CheckoutCreateRequest.model_validate(body(option="exp"))).body
    [group] = checkout["fulfillment"]["methods"][0]["groups"]
    assert [o["id"] for o in group["options"]] == ["std", "exp"] and group["selected_option_id"] == "exp"
    assert totals(checkout)["fulfillment"] == 1500 and totals(checkout)["total"] == 6500
    free = checkouts.create(APP, CheckoutCreateRequest.model_validate(body(quantity=3))).body
    assert totals(free)["fulfillment"] == 0  # over 70.00: the promotion's free shipping
    [free_group] = free["fulfillment"]["methods"][0]["groups"]
    titles = {o["id"]: o["title"] for o in free_group["options"]}
    assert titles["std"] == "Standard (Free shipping over 70)"  # says why it costs nothing
    assert any(d.get("automatic") for d in free["discounts"]["applied"])
    unknown = checkouts.create(APP, CheckoutCreateRequest.model_validate(body(option="us-std"))).body
    assert unknown["status"] == "incomplete"  # the US option does not ship to Portugal
    assert any(m["code"] == "not_found" and "us-std" in m["content"] for m in unknown["messages"])


def test_the_person_confirms_the_total_the_checkout_showed_and_the_order_is_placed_at_it(
    checkouts, shop
) -> None:
    checkout = checkouts.create(
        APP, CheckoutCreateRequest.model_validate(body(codes=["TENOFF"], option="exp"))
    ).body
    complete = CheckoutCompleteRequest.model_validate({"payment": {"instruments": [VISA]}})
    waiting = checkouts.complete(APP, checkout["id"], complete).body
    assert waiting["status"] == "requires_escalation"
    owner = Owner(SHOP, ANN)
    [action] = shop.actions.list_actions(owner)
    assert action.amount == totals(checkout)["total"] == 5000 - 500 + 1500
    assert "TENOFF" in action.summary or "10%" in action.summary
    token = waiting["continue_url"].split("#token=")[1]
    assert checkouts.decide(checkout["id"], token, True, APP.base_url)["status"] == "completed"
    [order] = shop.orders.list_orders(owner)
    assert order["total"] == action.amount and order["shipping_option"] == "exp"
    assert [d["code"] for d in order["discounts"]] == ["TENOFF"]


def test_a_destination_with_only_a_country_is_quoted_but_not_ready_to_ship(checkouts) -> None:
    partial = {"id": "d1", "address_country": "US", "postal_code": "10001"}
    request = body() | {
        "fulfillment": {
            "methods": [{"type": "shipping", "destinations": [partial], "selected_destination_id": "d1"}]
        }
    }
    checkout = checkouts.create(APP, CheckoutCreateRequest.model_validate(request)).body
    [group] = checkout["fulfillment"]["methods"][0]["groups"]
    assert [o["id"] for o in group["options"]] == ["exp", "us-std"]  # express, and the US's own standard
    assert checkout["status"] == "incomplete"
    assert any("street_address" in m["content"] for m in checkout["messages"] if m["type"] == "error")
    full = dict(partial, street_address="5 Main St", address_locality="New York")
    request["fulfillment"]["methods"][0]["destinations"] = [full]
    ready = checkouts.update(APP, checkout["id"], CheckoutUpdateRequest.model_validate(request)).body
    assert ready["status"] == "ready_for_complete", ready.get("messages")
