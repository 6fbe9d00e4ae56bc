"""Payment handlers: the ways a store takes payment, each charged through a ``PaymentProvider``.

A **handler** is what a buyer's platform pays with (UCP's payment handlers): a wallet such as Google Pay or
Shop Pay, a provider's card tokenizer, or the store's own saved methods. The platform gets a credential
(a token) from the handler, and the store charges that token through the provider the handler maps to.

* The store's own handler is always offered first (``builtin``): its saved payment methods, or a token
  of the store's payment provider (``[commerce] payment_provider``).
* More come from ``[[commerce.payment_handlers]]``, each naming the provider that charges its tokens:
  ``"default"`` (that same provider) or one of ``[commerce.payment_providers]``. Its ``spec``,
  ``config_schema``, ``instrument_schemas`` and ``config`` are published as the handler's owner defines
  them; Ponder does not read the config.

With more than one provider, the shop charges through a ``RoutedProvider``: a token taken by a handler of
another provider is written ``@NAME:TOKEN`` (``route_token``), and that provider's charge ids come back
written the same way, so a refund, a price difference or a retry later goes to the provider that charged,
whatever the order's history. A token or charge id without the prefix is the default provider's (saved
methods, store files, and every order from before a second provider was configured).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ponder.commerce.payments import Charge, Credit, PaymentProvider, Refund, crediting
from ponder.errors import PaymentDeclinedError, PaymentProviderError

__all__ = ["BUILTIN_NAME", "DEFAULT", "PaymentHandler", "RoutedProvider", "builtin", "route_token"]

BUILTIN_NAME = "dev.ponder.payment_token"  # the store's own handler: a saved method by id, or a token
DEFAULT = "default"  # the provider name that means [commerce] payment_provider
_ROUTE = "@"


@dataclass(frozen=True)
class PaymentHandler:
    """One way to pay, as the store publishes it. ``spec``/``config_schema`` ``None``: Ponder's own pages
    (the built-in handler's, served by the server)."""

    id: str  # what a payment instrument names as its handler_id
    name: str  # the handler's reverse-DNS name (its spec's owner): com.google.pay, dev.ponder.payment_token
    provider: str = DEFAULT  # the provider that charges its tokens
    version: str = "2026-01-11"
    spec: str | None = None
    config_schema: str | None = None
    instrument_schemas: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ("card",)  # the instrument types it takes
    config: Mapping[str, Any] = field(default_factory=dict)
    saved_methods: bool = False  # it also takes the buyer's saved methods by id (the built-in only)

    def token(self, token: str) -> str:
        """The token a platform sent, as the shop charges it (``route_token``)."""
        return route_token(self.provider, token)


def builtin(provider: str) -> PaymentHandler:
    """The store's own handler for its payment provider named ``provider``."""
    return PaymentHandler(
        id=f"ponder_{provider}",
        name=BUILTIN_NAME,
        instruments=("card", "gift_card", "paypal"),
        config={"provider": provider, "environment": "TEST" if provider == "test" else "PRODUCTION"},
        saved_methods=True,
    )


def route_token(provider: str, token: str) -> str:
    """``token`` of the provider named ``provider``, as a ``RoutedProvider`` charges it."""
    return token if provider == DEFAULT else f"{_ROUTE}{provider}:{token}"


def _split(value: str) -> tuple[str, str]:
    """(provider name, the provider's own token or id) of a routed token or charge id."""
    if value.startswith(_ROUTE) and ":" in value:
        name, _, rest = value[1:].partition(":")
        return name, rest
    return DEFAULT, value


class RoutedProvider:
    """A ``PaymentProvider`` over several: each token and charge id goes to the provider it names (module
    docstring). Idempotency keys pass through unchanged, so each provider answers a repeat itself."""

    def __init__(self, default: PaymentProvider, others: Mapping[str, PaymentProvider]) -> None:
        if DEFAULT in others:
            raise ValueError(f"'{DEFAULT}' names the default provider")
        self.default = default
        self.others = dict(others)
        self.name = default.name

    def _provider(self, name: str) -> PaymentProvider:
        if name == DEFAULT:
            return self.default
        provider = self.others.get(name)
        if provider is None:  # a token naming no provider of this store: nothing can charge it
            raise PaymentDeclinedError(
                f"No payment provider '{name}' takes this payment method here.", code="invalid_token"
            )
        return provider

    def check(self, token: str) -> None:
        name, raw = _split(token)
        check = getattr(self._provider(name), "check", None)
        if check is not None:
            check(raw)

    def charge(
        self, *, amount: int, currency: str, token: str, idempotency_key: str, description: str = ""
    ) -> Charge:
        name, raw = _split(token)
        charge = self._provider(name).charge(
            amount=amount,
            currency=currency,
            token=raw,
            idempotency_key=idempotency_key,
            description=description,
        )
        return dataclasses.replace(charge, id=route_token(name, charge.id))

    def refund(self, *, charge_id: str, amount: int, idempotency_key: str) -> Refund:
        name, raw = _split(charge_id)
        refund = self._provider(name).refund(charge_id=raw, amount=amount, idempotency_key=idempotency_key)
        return Refund(route_token(name, refund.id), charge_id, refund.amount)

    def can_credit(self, token: str) -> bool:
        name, raw = _split(token)
        provider = self.default if name == DEFAULT else self.others.get(name)
        return provider is not None and crediting(provider, raw) is not None

    def credit(self, *, token: str, amount: int, currency: str, idempotency_key: str) -> Credit:
        name, raw = _split(token)
        provider = crediting(self._provider(name), raw)
        if provider is None:
            raise PaymentProviderError(f"The payment provider '{name}' pays no credits.")
        credit = provider.credit(token=raw, amount=amount, currency=currency, idempotency_key=idempotency_key)
        return dataclasses.replace(credit, id=route_token(name, credit.id))
