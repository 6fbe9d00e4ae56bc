"""Payment handlers and the provider that routes each token and charge to the provider it belongs to."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ponder.commerce.payment_handlers import RoutedProvider, builtin, route_token
from ponder.commerce.payments import TestPaymentProvider
from ponder.config import CommerceConfig, PaymentHandlerConfig
from ponder.errors import PaymentDeclinedError

HANDLER = {"spec": "https://w.example/spec", "config_schema": "https://w.example/config.json"}


@pytest.fixture
def providers() -> tuple[TestPaymentProvider, TestPaymentProvider, RoutedProvider]:
    default, wallet = TestPaymentProvider(), TestPaymentProvider(name="wallet")
    return default, wallet, RoutedProvider(default, {"wallet": wallet})


def test_a_routed_token_is_charged_and_refunded_by_its_own_provider(providers) -> None:
    default, wallet, routed = providers
    charge = routed.charge(
        amount=900, currency="EUR", token=route_token("wallet", "tok_test_w"), idempotency_key="k1"
    )
    [made] = wallet.charges()
    assert charge.id == f"@wallet:{made.id}" and default.charges() == []
    again = routed.charge(
        amount=900, currency="EUR", token=route_token("wallet", "tok_test_w"), idempotency_key="k1"
    )
    assert again == charge  # the provider answers a repeated key itself
    refund = routed.refund(charge_id=charge.id, amount=400, idempotency_key="r1")
    assert refund.charge_id == charge.id and [(r.charge_id, r.amount) for r in wallet.refunds()] == [
        (made.id, 400)
    ]


def test_a_plain_token_or_charge_id_is_the_default_providers(providers) -> None:
    default, wallet, routed = providers
    charge = routed.charge(amount=500, currency="EUR", token="tok_test_saved", idempotency_key="k2")
    [made] = default.charges()
    assert (
        charge.id == made.id and wallet.charges() == []
    )  # orders from before a second provider still refund
    routed.refund(charge_id=charge.id, amount=500, idempotency_key="r2")
    assert [r.charge_id for r in default.refunds()] == [made.id]


def test_checks_are_routed_and_a_token_of_no_provider_is_declined(providers) -> None:
    _, _, routed = providers
    routed.check(route_token("wallet", "tok_test_ok"))
    with pytest.raises(PaymentDeclinedError):
        routed.check(route_token("wallet", "tok_decline_x"))
    with pytest.raises(PaymentDeclinedError, match="No payment provider 'other'"):
        routed.charge(
            amount=1, currency="EUR", token=route_token("other", "tok_test_x"), idempotency_key="k3"
        )


def test_the_stores_own_handler_takes_saved_methods_and_its_providers_tokens() -> None:
    own = builtin("test")
    assert own.id == "ponder_test" and own.saved_methods and own.token("tok_1") == "tok_1"
    assert own.config == {"provider": "test", "environment": "TEST"}


def test_a_handler_must_name_a_configured_provider_and_a_unique_id() -> None:
    wallet = PaymentHandlerConfig(id="w", name="com.example.wallet", provider="wallet", **HANDLER)
    CommerceConfig(payment_providers={"wallet": "test"}, payment_handlers=[wallet])
    with pytest.raises(ValidationError, match="no provider 'wallet'"):
        CommerceConfig(payment_handlers=[wallet])
    with pytest.raises(ValidationError, match="ids are unique"):
        CommerceConfig(payment_providers={"wallet": "test"}, payment_handlers=[wallet, wallet])
    with pytest.raises(ValidationError, match="not a provider name"):
        CommerceConfig(payment_providers={"default": "test"})
    with pytest.raises(ValidationError):
        PaymentHandlerConfig(id="w", name="not dns", **HANDLER)
