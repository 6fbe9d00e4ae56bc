"""Checkout: line items, an address and a payment method become one paid order, once per idempotency key.

    claim the key ──> price the items (stock, address, method checked) ──> charge (the same key goes to the
    provider) ──> one transaction: stock taken, order + items + status + payment written, key finished

A crash anywhere leaves either nothing, or a charge with no order; the retry with the same key takes the
key over (idempotency.py), charges again with the same provider key (which answers with the first charge)
and writes the order. So N identical requests, concurrent or retried after a kill -9, make one order and
one charge (bench/checkout.py measures both; bench/crash.py kills a real server at every step). A declined
card is a final answer, stored as the key's ``failed`` outcome and raised again to every repeat; a provider
that did not answer releases the key so the retry goes on at once. The key's record holds a domain outcome
(``done`` with the order's id, or ``failed`` with the error's kind and message), never an HTTP answer; a
repeat gets the order as it is now. The results are domain values (``OrderView``) and domain errors
(``PonderError``): the server layer turns them into HTTP answers.

Gift cards are the store's own money: their balance is taken in the order's transaction, with no provider.
If an item sold out between pricing and writing, the charge is refunded (with its own idempotency key).

The address and the payment method are the buyer's saved ones (by id), or given for this one order (an
``Address``, and a ``PaymentMethod`` holding a provider token, as an outside shopping agent gives them):
a given one is recorded on the order and charged, never added to the buyer's saved addresses or methods.
A gift card is only ever a saved one (its balance lives in the buyer's row).

Not here: who may check out. The shopping mode only proposes a checkout; the person confirms it
(actions.py), and only then is ``place_order`` called.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.engine import Connection

from ponder.commerce.crashpoints import crash_point
from ponder.commerce.customers import CustomerStore
from ponder.commerce.idempotency import IdempotencyKeys, Outcome, error_value
from ponder.commerce.inventory import debit_gift_card, price_lines, require_gift_card_covers, take_stock
from ponder.commerce.model import Address, PaymentMethod
from ponder.commerce.order_records import OrderView, insert_order, read_order
from ponder.commerce.orders import OrderBook
from ponder.commerce.payments import PaymentProvider
from ponder.commerce.pricing import PriceLine, checked_codes, price_order
from ponder.commerce.store_pricing import read_pricing_rules
from ponder.errors import ConflictError, NotFoundError, PaymentDeclinedError, PaymentProviderError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["MAX_QUANTITY", "Checkout", "LineItem"]

MAX_QUANTITY = 100
MAX_LINES = 50


@dataclass(frozen=True)
class LineItem:
    variant_id: str
    quantity: int = 1


class Checkout:
    def __init__(
        self, db: Database, provider: PaymentProvider, *, keys: IdempotencyKeys | None = None
    ) -> None:
        self.db = db
        self.provider = provider
        self.keys = keys or IdempotencyKeys(db)
        self.customers = CustomerStore(db)
        self.orders = OrderBook(db, provider)

    def place_order(
        self,
        owner: Owner,
        items: Sequence[LineItem],
        *,
        idempotency_key: str,
        address_id: str | None = None,
        payment_method_id: str | None = None,
        address: Address | None = None,
        method: PaymentMethod | None = None,
        codes: Sequence[str] = (),
        shipping_option: str | None = None,
        watchers: Sequence[dict[str, Any]] = (),
    ) -> OrderView:
        """The order, placed once per key: every repeat gets that order (as it is now), or the same error (a
        declined card, an item sold out); ``ConflictError`` with ``retry_after`` while another request with
        the key is in flight, and ``PaymentProviderError`` when the provider did not answer (retry both).
        Ship to a saved address (``address_id``) or a given one (``address``), and pay with a saved method
        (``payment_method_id``) or a given one (``method``): exactly one of each pair. ``codes``: discount
        codes, applied in order (one that does not apply refuses the order: the buyer was shown it);
        ``shipping_option``: one of the store's options to the address (None: the cheapest). ``watchers``:
        ``{"kind", "payload"}`` jobs queued with every change of the order, placing it first
        (order_records.notify): how a UCP agent hears of its order."""
        lines = _merge(items)
        where = _Where.of(address_id, payment_method_id, address, method, codes, shipping_option)
        request = {"items": [[v, q] for v, q in lines]} | where.request()
        claim = self.keys.claim(owner, idempotency_key, request)
        if isinstance(claim, Outcome):
            return self._answer(owner, claim)
        order_id = (
            "ord_"
            + hashlib.sha256(f"{owner.account}\x00{owner.user}\x00{idempotency_key}".encode()).hexdigest()[
                :16
            ]
        )
        try:
            plan = claim.plan or self._plan(owner, order_id, lines, where) | {"watchers": list(watchers)}
            if claim.plan is None:
                self.keys.remember_plan(owner, idempotency_key, plan)
            crash_point("before_charge")
            charge_id = self._charge(owner, plan, idempotency_key)
            crash_point("after_charge")
        except PaymentProviderError:
            self.keys.release(owner, idempotency_key)
            raise
        except ConflictError as error:
            if error.retry_after is not None:  # the provider's key is busy: not an answer either way
                self.keys.release(owner, idempotency_key)
                raise
            return self._fail(owner, idempotency_key, error)
        except UserError as error:  # final answers (declined, no such item): stored, raised to repeats
            return self._fail(owner, idempotency_key, error)
        order = self._write(owner, plan, charge_id, idempotency_key)
        crash_point("after_write")
        return order

    def _answer(self, owner: Owner, outcome: Outcome) -> OrderView:
        """A finished key's answer: its error raised again, or its order as it is now. The key's record
        holds a domain outcome, the order's id (``{"order_id": ...}``) or the error (``error_value``); a
        record stored before it held the id held the whole order as placed, whose ``"id"`` serves alike."""
        value = outcome.value_or_raise()
        return self.orders.get(owner, str(value.get("order_id") or value["id"]))

    def _fail(self, owner: Owner, key: str, error: UserError) -> OrderView:
        """Store a final error as the key's outcome and raise it; if another request finished the key
        first, its outcome instead (its order, or its error)."""
        with self.db.transaction(lock=self.keys.lock_name(owner, key)) as db:
            earlier = self.keys.finish(db, owner, key, error_value(error), failed=True)
        if earlier is not None:
            return self._answer(owner, earlier)
        raise error

    def quote(
        self,
        owner: Owner,
        items: Sequence[LineItem],
        *,
        address_id: str | None = None,
        payment_method_id: str | None = None,
        address: Address | None = None,
        method: PaymentMethod | None = None,
        codes: Sequence[str] = (),
        shipping_option: str | None = None,
    ) -> dict[str, Any]:
        """What checking out would charge now: the priced items with their discounts, the shipping, total,
        address and payment method (as ``place_order`` would check them, stock and codes included), without
        charging or writing anything."""
        where = _Where.of(address_id, payment_method_id, address, method, codes, shipping_option)
        return self._plan(owner, "", _merge(items), where)

    # --- the steps ----------------------------------------------------------------------------------------

    def _plan(
        self,
        owner: Owner,
        order_id: str,
        lines: list[tuple[str, int]],
        where: _Where,
    ) -> dict[str, Any]:
        with self.db.reading() as db:
            address = where.address or self.customers.address(owner, str(where.address_id), db)
            method = where.method or self.customers.payment_method(owner, str(where.method_id), db)
            currency = _currency(db, owner.account)
            variants = price_lines(db, owner.account, lines)
            rules = read_pricing_rules(db, owner.account)
        cart = price_order(
            [
                PriceLine(v.variant_id, v.price, q, v.product_id)
                for v, (_, q) in zip(variants, lines, strict=True)
            ],
            where.codes,
            address.country,
            rules,
            now=time.time(),
            shipping_option=where.shipping_option,
        )
        if rules.shipping_options and cart.shipping is None:
            raise UserError(f"This store does not ship to {address.country}.")
        if cart.rejected:
            raise UserError("; ".join(r.message for r in cart.rejected))
        share = cart.line_discounts(len(lines))
        priced: list[dict[str, Any]] = [
            {
                "variant_id": variant.variant_id,
                "product_id": variant.product_id,
                "name": variant.name,
                "options": variant.options,
                "price": variant.price,
                "quantity": quantity,
                "discount": discount,
            }
            for variant, (_, quantity), discount in zip(variants, lines, share, strict=True)
        ]
        require_gift_card_covers(method, cart.total, currency, "the total")
        return {
            "order_id": order_id,
            "items": priced,
            "subtotal": cart.subtotal,
            "shipping": cart.shipping.amount if cart.shipping else 0,
            "shipping_option": cart.shipping.id if cart.shipping else "",
            "shipping_title": cart.shipping.title if cart.shipping else "",
            "discounts": [{"code": d.code, "title": d.title, "amount": d.amount} for d in cart.discounts],
            "total": cart.total,
            "currency": currency,
            "address": asdict(address),
            "method": {"id": method.id, "kind": method.kind, "token": method.token},
        }

    def _charge(self, owner: Owner, plan: dict[str, Any], key: str) -> str:
        method = plan["method"]
        if method["kind"] == "gift_card":
            return ""  # taken from the balance in the order's transaction
        charge = self.provider.charge(
            amount=plan["total"],
            currency=plan["currency"],
            token=method["token"],
            idempotency_key=f"checkout:{owner.account}:{owner.user}:{key}",
            description=f"Order {plan['order_id']}",
        )
        return charge.id

    def _write(self, owner: Owner, plan: dict[str, Any], charge_id: str, key: str) -> OrderView:
        order_id = plan["order_id"]
        try:
            with self.db.transaction(lock=self.keys.lock_name(owner, key)) as db:
                earlier = self.keys.finished(db, owner, key)
                if earlier is not None:  # a takeover raced this request and wrote the order first
                    raise _Finished(earlier)
                for item in plan["items"]:
                    take_stock(db, owner.account, item["variant_id"], item["name"], item["quantity"])
                if plan["method"]["kind"] == "gift_card":
                    debit_gift_card(db, owner, plan["method"]["id"], plan["total"], plan["currency"])
                insert_order(db, owner, plan, charge_id)
                order = read_order(db, owner, order_id)
                earlier = self.keys.finish(db, owner, key, {"order_id": order_id})
                if earlier is not None:
                    raise _Finished(earlier)
            return order
        except _Finished as done:
            return self._answer(owner, done.outcome)
        except (ConflictError, PaymentDeclinedError) as sold_out:  # sold out, or the gift card spent since
            # pricing: give the money back
            if charge_id:
                self.provider.refund(
                    charge_id=charge_id, amount=plan["total"], idempotency_key=f"checkout-refund:{charge_id}"
                )
            return self._fail(owner, key, sold_out)


@dataclass(frozen=True)
class _Where:
    """Where an order ships and what pays it: a saved address and method (ids), or ones given for it; and
    the discount codes and shipping option it was priced with."""

    address_id: str | None
    method_id: str | None
    address: Address | None
    method: PaymentMethod | None
    codes: tuple[str, ...] = ()
    shipping_option: str | None = None

    @classmethod
    def of(
        cls,
        address_id: str | None,
        method_id: str | None,
        address: Address | None,
        method: PaymentMethod | None,
        codes: Sequence[str] = (),
        shipping_option: str | None = None,
    ) -> _Where:
        if (address_id is None) == (address is None):
            raise UserError("Name the address to ship to: a saved one (its id) or one given for the order.")
        if (method_id is None) == (method is None):
            raise UserError("Name the payment method: a saved one (its id) or one given for the order.")
        if address is not None and not (
            address.line1.strip() and address.city.strip() and address.country.strip()
        ):
            raise UserError("An address needs at least a street line, a city and a country.")
        if method is not None and (method.kind == "gift_card" or not method.token or not method.id):
            raise UserError("A payment method given for an order is a provider's token (not a gift card).")
        return cls(address_id, method_id, address, method, tuple(checked_codes(codes)), shipping_option)

    def request(self) -> dict[str, Any]:
        """What the idempotency key pins: the ids, or what was given (a token by its digest); the codes and
        shipping option when there are any."""
        given = self.method
        priced_with: dict[str, Any] = {"codes": list(self.codes)} if self.codes else {}
        if self.shipping_option is not None:
            priced_with["shipping_option"] = self.shipping_option
        return priced_with | {
            "address": self.address_id if self.address is None else asdict(self.address),
            "payment_method": self.method_id
            if given is None
            else {
                "id": given.id,
                "kind": given.kind,
                "token": hashlib.sha256(given.token.encode()).hexdigest(),
            },
        }


class _Finished(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def _merge(items: Sequence[LineItem]) -> list[tuple[str, int]]:
    if not items:
        raise UserError("A checkout needs at least one item.")
    if len(items) > MAX_LINES:
        raise UserError(f"A checkout takes at most {MAX_LINES} lines.")
    merged: dict[str, int] = {}
    for item in items:
        if not 1 <= item.quantity <= MAX_QUANTITY:
            raise UserError(
                f"A quantity is between 1 and {MAX_QUANTITY} (got {item.quantity} of {item.variant_id})."
            )
        merged[item.variant_id] = merged.get(item.variant_id, 0) + item.quantity
    return sorted(merged.items())


def _currency(db: Connection, account: str) -> str:
    currency = db.execute(
        sql("SELECT currency FROM stores WHERE account = :account"), {"account": account}
    ).scalar()
    if currency is None:
        raise NotFoundError(f"Account '{account}' has no store.")
    return str(currency)
