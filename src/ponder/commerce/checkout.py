"""Checkout: line items, an address and a payment method become one paid order, once per idempotency key.

    claim the key ──> price the items (stock, address, method checked) ──> charge (the same key goes to the
    provider) ──> one transaction: stock taken, order + items + status + payment written, key finished

A crash anywhere leaves either nothing, or a charge with no order; the retry with the same key takes the
key over (idempotency.py), charges again with the same provider key (which answers with the first charge)
and writes the order. So N identical requests, concurrent or retried after a kill -9, make one order and
one charge (bench/checkout.py measures both). A declined card is a final answer, stored and replayed like a
success; a provider that did not answer releases the key so the retry goes on at once.

Gift cards are the store's own money: their balance is taken in the order's transaction, with no provider.
If an item sold out between pricing and writing, the charge is refunded (with its own idempotency key).

Not here: who may check out. The shopping mode only proposes a checkout; the person confirms it
(actions.py), and only then is ``place_order`` called.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.engine import Connection

from ponder.commerce.customers import CustomerStore
from ponder.commerce.idempotency import IdempotencyKeys, Replay
from ponder.commerce.orders import OrderBook
from ponder.commerce.payments import PaymentProvider
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
        address_id: str,
        payment_method_id: str,
        idempotency_key: str,
    ) -> tuple[int, dict[str, Any]]:
        """(HTTP status, the order as JSON): 201 the first time, the same answer for every repeat."""
        lines = _merge(items)
        request = {
            "items": [[v, q] for v, q in lines],
            "address": address_id,
            "payment_method": payment_method_id,
        }
        claim = self.keys.claim(owner, idempotency_key, request)
        if isinstance(claim, Replay):
            return claim.status_code, claim.response
        order_id = (
            "ord_"
            + hashlib.sha256(f"{owner.account}\x00{owner.user}\x00{idempotency_key}".encode()).hexdigest()[
                :16
            ]
        )
        try:
            plan = claim.plan or self._plan(owner, order_id, lines, address_id, payment_method_id)
            if claim.plan is None:
                self.keys.remember_plan(owner, idempotency_key, plan)
            charge_id = self._charge(owner, plan, idempotency_key)
        except PaymentProviderError:
            self.keys.release(owner, idempotency_key)
            raise
        except (PaymentDeclinedError, UserError) as error:  # final answers: stored, replayed to repeats
            status, body = _error_response(error)
            with self.db.transaction(
                lock=f"idempotency:{owner.account}:{owner.user}:{idempotency_key}"
            ) as db:
                replay = self.keys.finish(db, owner, idempotency_key, status, body)
            if replay is not None:
                return replay.status_code, replay.response
            raise
        return self._write(owner, plan, charge_id, idempotency_key)

    def quote(
        self, owner: Owner, items: Sequence[LineItem], *, address_id: str, payment_method_id: str
    ) -> dict[str, Any]:
        """What checking out would charge now: the priced items, total, address and payment method (as
        ``place_order`` would check them, stock included), without charging or writing anything."""
        return self._plan(owner, "", _merge(items), address_id, payment_method_id)

    # --- the steps ----------------------------------------------------------------------------------------

    def _plan(
        self,
        owner: Owner,
        order_id: str,
        lines: list[tuple[str, int]],
        address_id: str,
        method_id: str,
    ) -> dict[str, Any]:
        with self.db.reading() as db:
            address = self.customers.address(owner, address_id, db)
            method = self.customers.payment_method(owner, method_id, db)
            currency = _currency(db, owner.account)
            priced = []
            for variant_id, quantity in lines:
                row = db.execute(
                    sql(
                        "SELECT v.product_id, v.options, v.price, v.stock, v.available, p.name "
                        "FROM variants v JOIN products p ON p.account = v.account AND p.id = v.product_id "
                        "WHERE v.account = :account AND v.id = :id"
                    ),
                    {"account": owner.account, "id": variant_id},
                ).first()
                if row is None:
                    raise NotFoundError(f"No item '{variant_id}' in this store.")
                if not row[4] or (row[3] is not None and row[3] < quantity):
                    left = 0 if not row[4] else row[3]
                    raise ConflictError(f"'{row[5]}' ({variant_id}) has only {left} in stock.")
                priced.append(
                    {
                        "variant_id": variant_id,
                        "product_id": row[0],
                        "name": row[5],
                        "options": json.loads(row[1]),
                        "price": int(row[2]),
                        "quantity": quantity,
                    }
                )
        total = sum(p["price"] * p["quantity"] for p in priced)
        if method.kind == "gift_card" and (method.balance or 0) < total:
            raise PaymentDeclinedError(
                f"The gift card {method.id} has {method.balance or 0} left, less than the total {total}.",
                code="insufficient_funds",
            )
        return {
            "order_id": order_id,
            "items": priced,
            "total": total,
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

    def _write(
        self, owner: Owner, plan: dict[str, Any], charge_id: str, key: str
    ) -> tuple[int, dict[str, Any]]:
        order_id = plan["order_id"]
        try:
            with self.db.transaction(lock=f"idempotency:{owner.account}:{owner.user}:{key}") as db:
                replay = self.keys.finished(db, owner, key)
                if replay is not None:  # a takeover raced this request and wrote the order first
                    raise _Finished(replay)
                _take_stock(db, owner.account, plan["items"])
                if plan["method"]["kind"] == "gift_card":
                    _take_from_gift_card(db, owner, plan["method"]["id"], plan["total"])
                self.orders.insert(db, owner, plan, charge_id)
                response = self.orders.view(db, owner, order_id)
                replay = self.keys.finish(db, owner, key, 201, response)
                if replay is not None:
                    raise _Finished(replay)
            return 201, response
        except _Finished as done:
            return done.replay.status_code, done.replay.response
        except (ConflictError, PaymentDeclinedError) as sold_out:  # sold out, or the gift card spent since
            # pricing: give the money back
            if charge_id:
                self.provider.refund(
                    charge_id=charge_id, amount=plan["total"], idempotency_key=f"checkout-refund:{charge_id}"
                )
            status, body = _error_response(sold_out)
            with self.db.transaction(lock=f"idempotency:{owner.account}:{owner.user}:{key}") as db:
                replay = self.keys.finish(db, owner, key, status, body)
            if replay is not None:
                return replay.status_code, replay.response
            raise


class _Finished(Exception):
    def __init__(self, replay: Replay) -> None:
        self.replay = replay


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
    row = db.execute(
        sql("SELECT currency FROM stores WHERE account = :account"), {"account": account}
    ).first()
    if row is None:
        raise NotFoundError(f"Account '{account}' has no store.")
    return str(row[0])


def _take_stock(db: Connection, account: str, items: Sequence[dict[str, Any]]) -> None:
    for item in items:
        taken = db.execute(
            sql(
                "UPDATE variants SET stock = stock - :q WHERE account = :account AND id = :id AND available "
                "AND stock IS NOT NULL AND stock >= :q"
            ),
            {"account": account, "id": item["variant_id"], "q": item["quantity"]},
        ).rowcount
        if taken:
            continue
        row = db.execute(
            sql("SELECT stock, available FROM variants WHERE account = :account AND id = :id"),
            {"account": account, "id": item["variant_id"]},
        ).first()
        if row is None or not row[1] or row[0] is not None:
            raise ConflictError(f"'{item['name']}' ({item['variant_id']}) sold out while checking out.")


def _take_from_gift_card(db: Connection, owner: Owner, method_id: str, amount: int) -> None:
    taken = db.execute(
        sql(
            "UPDATE payment_methods SET balance = balance - :amount WHERE account = :account "
            "AND user_id = :user AND id = :id AND kind = 'gift_card' AND balance >= :amount"
        ),
        owner.params(id=method_id, amount=amount),
    ).rowcount
    if not taken:
        raise PaymentDeclinedError(
            f"The gift card {method_id} no longer covers {amount}.", code="insufficient_funds"
        )


def _error_response(error: Exception) -> tuple[int, dict[str, Any]]:
    from ponder.server.errors import from_ponder_error

    api = from_ponder_error(error) if isinstance(error, UserError) else None
    if api is None:
        return 500, {"error": {"message": str(error), "type": "server_error"}}
    return api.status, api.body()
