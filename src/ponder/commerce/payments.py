"""Payments through a port: the ``PaymentProvider`` a store charges and refunds with, and a test provider.

A provider is an outside system. Ponder sends it an amount, a saved payment method's token and an
**idempotency key** with every charge and refund, as Stripe, Adyen and Braintree accept: the provider answers
a repeated key with the first attempt's result instead of acting twice. That is what makes a checkout safe to
retry after a crash or a lost response (checkout.py): the retry reuses the key, so it can never charge twice.

``TestPaymentProvider`` behaves like a real one, with its own ledger (an SQLite file, apart from Ponder's
database, as a provider's books are) and card numbers that trigger each case, after Stripe's test cards:

    4242 4242 4242 4242, 5555 5555 5555 4444   approved
    4000 0000 0000 0002                        declined: card_declined
    4000 0000 0000 9995                        declined: insufficient_funds
    4000 0000 0000 0069                        declined: expired_card
    4000 0000 0000 0119                        fails: processing_error, nothing charged
    4000 0000 0000 0341                        charges, then fails to answer (the response is lost)

``tokenize`` turns a card number into a token (the number itself is never kept, by the provider's ledger
or by Ponder); store files name tokens directly: ``tok_test_...`` approves, ``tok_decline_...`` declines.
``latency_s`` delays every answer after the ledger is written, as a network would.

Not here: 3-D Secure, partial captures, currencies' minor-unit exponents (amounts are minor units as given).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from ponder.errors import ConflictError, PaymentDeclinedError, PaymentProviderError, UserError

__all__ = [
    "Charge",
    "Credit",
    "CreditingProvider",
    "PaymentProvider",
    "Refund",
    "TestPaymentProvider",
    "crediting",
]


@dataclass(frozen=True)
class Charge:
    id: str
    amount: int  # minor units
    currency: str
    status: Literal["succeeded"]


@dataclass(frozen=True)
class Refund:
    id: str
    charge_id: str
    amount: int


@dataclass(frozen=True)
class Credit:
    """Money paid to a saved method with no charge to take it from (an "unreferenced refund")."""

    id: str
    amount: int
    currency: str


class PaymentProvider(Protocol):
    """What a store needs from a payment provider. Both calls are idempotent on ``idempotency_key``.

    A provider may also have ``check(token)``: vet a token without charging (``PaymentDeclinedError`` for
    one it knows it will decline), so a UCP agent's order with a dead card is refused at ``complete``
    instead of being put to the person (commerce/ucp/checkouts.py looks for it)."""

    name: str

    def charge(
        self, *, amount: int, currency: str, token: str, idempotency_key: str, description: str = ""
    ) -> Charge:
        """Charge, or raise PaymentDeclinedError (a final no) or PaymentProviderError (unknown: retry)."""
        ...

    def refund(self, *, charge_id: str, amount: int, idempotency_key: str) -> Refund:
        """Refund part or all of a charge (PaymentProviderError: unknown, retry with the same key)."""
        ...


@runtime_checkable
class CreditingProvider(Protocol):
    """A provider that can also pay money to a saved method that was never charged for the order: Adyen's
    unreferenced refunds, Braintree's ``Transaction.credit``. A store whose rules send a refund to any of
    the customer's methods needs one (refunds.py); other providers leave it out."""

    def credit(self, *, token: str, amount: int, currency: str, idempotency_key: str) -> Credit:
        """Pay ``amount`` to ``token``'s method (PaymentDeclinedError; PaymentProviderError: retry)."""
        ...


def crediting(provider: PaymentProvider, token: str) -> CreditingProvider | None:
    """``provider`` as one that pays credits to ``token``'s method, or None where it cannot (a provider
    over several, ``RoutedProvider``, answers for the one the token names)."""
    can = getattr(provider, "can_credit", None)
    if can is not None and not can(token):
        return None
    return provider if isinstance(provider, CreditingProvider) else None


_CARDS: dict[str, tuple[str, str | None]] = {  # card number -> (brand, what happens: None approves)
    "4242424242424242": ("visa", None),
    "5555555555554444": ("mastercard", None),
    "4000000000000002": ("visa", "card_declined"),
    "4000000000009995": ("visa", "insufficient_funds"),
    "4000000000000069": ("visa", "expired_card"),
    "4000000000000119": ("visa", "processing_error"),
    "4000000000000341": ("visa", "lost_response"),
}
_DECLINES = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "expired_card": "The card has expired.",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, brand TEXT NOT NULL, last4 TEXT NOT NULL,
    behaviour TEXT);
CREATE TABLE IF NOT EXISTS charges (id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE,
    request_sha256 TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL, token TEXT NOT NULL,
    description TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refunds (id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE,
    charge_id TEXT NOT NULL REFERENCES charges(id), amount INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS credits (id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE,
    request_sha256 TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL, token TEXT NOT NULL,
    created_at REAL NOT NULL);
"""


def _luhn(number: str) -> bool:
    total = 0
    for i, digit in enumerate(int(c) for c in reversed(number)):
        total += digit if i % 2 == 0 else (digit * 2 - 9 if digit > 4 else digit * 2)
    return total % 10 == 0


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class TestPaymentProvider:
    """A payment provider for development and tests, with a ledger that survives restarts and crashes."""

    name = "test"
    __test__ = False  # not a pytest test class

    def __init__(
        self, ledger: str | Path = ":memory:", *, latency_s: float = 0.0, name: str = "test"
    ) -> None:
        self.name = name
        self.latency_s = latency_s
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(ledger), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row  # columns read by name
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")  # a provider's books: every commit on disk
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # --- cards ------------------------------------------------------------------------------------------

    def tokenize(self, card_number: str) -> tuple[str, str, str]:
        """(token, brand, last4) for a card number; a UserError if it is not a valid one."""
        number = "".join(card_number.split()).replace("-", "")
        if not number.isdigit() or not 12 <= len(number) <= 19 or not _luhn(number):
            raise UserError("That is not a valid card number.")
        brand, behaviour = _CARDS.get(number, ("visa" if number[0] == "4" else "card", None))
        token = "tok_" + secrets.token_hex(12)
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens (token, brand, last4, behaviour) VALUES (?, ?, ?, ?)",
                (token, brand, number[-4:], behaviour),
            )
        return token, brand, number[-4:]

    def _behaviour(self, token: str) -> str | None:
        row = self._db.execute("SELECT behaviour FROM tokens WHERE token = ?", (token,)).fetchone()
        if row is not None:
            return str(row["behaviour"]) if row["behaviour"] else None
        if token.startswith(("tok_test_", "paypal_")):
            return None
        if token.startswith("tok_decline_"):
            return "card_declined"
        raise PaymentDeclinedError("The provider does not know this payment method.", code="invalid_token")

    # --- the port ---------------------------------------------------------------------------------------

    def check(self, token: str) -> None:
        """Vet a token without charging it (the port's optional ``check``): ``PaymentDeclinedError`` for one
        the provider already knows it will decline, or does not know at all."""
        with self._lock:
            behaviour = self._behaviour(token)
        if behaviour in _DECLINES:
            raise PaymentDeclinedError(_DECLINES[behaviour], code=behaviour)

    def charge(
        self, *, amount: int, currency: str, token: str, idempotency_key: str, description: str = ""
    ) -> Charge:
        if amount <= 0:
            raise UserError(f"A charge must be a positive amount (got {amount}).")
        request = _digest(amount, currency, token)
        with self._lock:
            found = self._db.execute(
                "SELECT id, request_sha256, amount, currency FROM charges WHERE idempotency_key = ?",
                (idempotency_key,),
            ).fetchone()
            if found is not None:
                if found["request_sha256"] != request:
                    raise ConflictError("This idempotency key was used for another charge.")
                first = Charge(found["id"], int(found["amount"]), found["currency"], "succeeded")
                return first  # the first answer, again
            behaviour = self._behaviour(token)
            if behaviour in _DECLINES:
                raise PaymentDeclinedError(_DECLINES[behaviour], code=behaviour)
            if behaviour == "processing_error":
                raise PaymentProviderError("The payment provider had a processing error; nothing charged.")
            charge = Charge("ch_" + secrets.token_hex(10), amount, currency, "succeeded")
            self._db.execute(
                "INSERT INTO charges (id, idempotency_key, request_sha256, amount, currency, token, "
                "description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (charge.id, idempotency_key, request, amount, currency, token, description, time.time()),
            )
        if self.latency_s:
            time.sleep(self.latency_s)
        if behaviour == "lost_response":
            raise PaymentProviderError("The payment provider did not answer in time.")
        return charge

    def refund(self, *, charge_id: str, amount: int, idempotency_key: str) -> Refund:
        if amount <= 0:
            raise UserError(f"A refund must be a positive amount (got {amount}).")
        with self._lock:
            found = self._db.execute(
                "SELECT id, charge_id, amount FROM refunds WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            if found is not None:
                if (found["charge_id"], int(found["amount"])) != (charge_id, amount):
                    raise ConflictError("This idempotency key was used for another refund.")
                return Refund(found["id"], found["charge_id"], int(found["amount"]))
            charged = self._db.execute("SELECT amount FROM charges WHERE id = ?", (charge_id,)).fetchone()
            if charged is None:
                raise UserError(f"No charge {charge_id} to refund.")
            refunded = self._db.execute(
                "SELECT COALESCE(SUM(amount), 0) AS refunded FROM refunds WHERE charge_id = ?", (charge_id,)
            ).fetchone()["refunded"]
            if refunded + amount > charged["amount"]:
                raise UserError(
                    f"Cannot refund {amount}: only {charged['amount'] - refunded} of charge {charge_id} is "
                    "left."
                )
            refund = Refund("re_" + secrets.token_hex(10), charge_id, amount)
            self._db.execute(
                "INSERT INTO refunds (id, idempotency_key, charge_id, amount, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (refund.id, idempotency_key, charge_id, amount, time.time()),
            )
        if self.latency_s:
            time.sleep(self.latency_s)
        return refund

    def credit(self, *, token: str, amount: int, currency: str, idempotency_key: str) -> Credit:
        if amount <= 0:
            raise UserError(f"A credit must be a positive amount (got {amount}).")
        request = _digest(amount, currency, token)
        with self._lock:
            found = self._db.execute(
                "SELECT id, request_sha256, amount, currency FROM credits WHERE idempotency_key = ?",
                (idempotency_key,),
            ).fetchone()
            if found is not None:
                if found["request_sha256"] != request:
                    raise ConflictError("This idempotency key was used for another credit.")
                return Credit(found["id"], int(found["amount"]), found["currency"])
            behaviour = self._behaviour(token)
            if behaviour in _DECLINES:
                raise PaymentDeclinedError(_DECLINES[behaviour], code=behaviour)
            if behaviour == "processing_error":
                raise PaymentProviderError("The payment provider had a processing error; nothing paid.")
            credit = Credit("cr_" + secrets.token_hex(10), amount, currency)
            self._db.execute(
                "INSERT INTO credits (id, idempotency_key, request_sha256, amount, currency, token, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (credit.id, idempotency_key, request, amount, currency, token, time.time()),
            )
        if self.latency_s:
            time.sleep(self.latency_s)
        return credit

    # --- for tests and benchmarks: the provider's own books ----------------------------------------------

    def credits(self) -> list[tuple[Credit, str]]:
        """Every credit paid, with the token it went to."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, amount, currency, token FROM credits ORDER BY created_at"
            ).fetchall()
        return [(Credit(r["id"], int(r["amount"]), r["currency"]), str(r["token"])) for r in rows]

    def charges(self) -> list[Charge]:
        with self._lock:
            rows = self._db.execute("SELECT id, amount, currency FROM charges ORDER BY created_at").fetchall()
        return [Charge(r["id"], int(r["amount"]), r["currency"], "succeeded") for r in rows]

    def charge_token(self, charge_id: str) -> str:
        """The token a charge was made on."""
        with self._lock:
            row = self._db.execute("SELECT token FROM charges WHERE id = ?", (charge_id,)).fetchone()
        if row is None:
            raise UserError(f"No charge {charge_id}.")
        return str(row["token"])

    def refunds(self) -> list[Refund]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, charge_id, amount FROM refunds ORDER BY created_at"
            ).fetchall()
        return [Refund(r["id"], r["charge_id"], int(r["amount"])) for r in rows]
