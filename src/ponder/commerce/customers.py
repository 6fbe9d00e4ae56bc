"""A store's customers: the account's users, with their addresses and saved payment methods.

A customer is a user of the account (``users``, shared with memory): importing a store creates them, and
``ponder forget-me`` removes their addresses and payment methods with everything else. A payment method is
stored as the provider's token plus brand and last four digits; a card number never reaches this module
(``add_card`` tokenizes it with the provider first).

The store file's customers and orders are written here too (``write_customers``, ``write_orders``: the
import's half; store_export.py reads them back). An order is written as the file says it, with what
checkout priced into it and its history; where the file leaves something out (an older file, tau2's), what
it would have been is made here (``order_total``, ``imported_history``), and the export leaves out what
equals it, so a file exported and imported again is the same file.

Not here: orders (orders.py), which also reads these to check an address or a method belongs to the buyer.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from sqlalchemy.engine import Connection

from ponder.commerce.model import IMPORTED_NOTE, Address, Customer, Order, OrderEvent, PaymentMethod
from ponder.errors import NotFoundError, UserError
from ponder.memory.owner import Owner
from ponder.memory.users import UserStore
from ponder.store.database import Database, sql

__all__ = [
    "CustomerStore",
    "address_from_json",
    "imported_history",
    "order_total",
    "write_customers",
    "write_orders",
]


class CustomerStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.users = UserStore(db)

    def addresses(self, owner: Owner) -> list[Address]:
        with self.db.reading() as db:
            rows = db.execute(
                sql("SELECT data FROM addresses WHERE account = :account AND user_id = :user ORDER BY id"),
                owner.params(),
            )
            return [address_from_json(data) for (data,) in rows]

    def address(self, owner: Owner, address_id: str, db: Connection | None = None) -> Address:
        def read(c: Connection) -> Address:
            data = c.execute(
                sql("SELECT data FROM addresses WHERE account = :account AND user_id = :user AND id = :id"),
                owner.params(id=address_id),
            ).scalar()
            if data is None:
                raise NotFoundError(f"No address '{address_id}' for user '{owner.user}'.")
            return address_from_json(data)

        if db is not None:
            return read(db)
        with self.db.reading() as c:
            return read(c)

    def add_address(self, owner: Owner, address: Address) -> Address:
        if not (address.line1.strip() and address.city.strip() and address.country.strip()):
            raise UserError("An address needs at least a street line, a city and a country.")
        address = Address(**(asdict(address) | {"id": address.id or "addr_" + secrets.token_hex(4)}))
        self.users.ensure(owner)
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "INSERT INTO addresses (account, user_id, id, data) VALUES (:account, :user, :id, :data) "
                    "ON CONFLICT (account, user_id, id) DO UPDATE SET data = excluded.data"
                ),
                owner.params(id=address.id, data=json.dumps(asdict(address))),
            )
        return address

    def payment_methods(self, owner: Owner) -> list[PaymentMethod]:
        with self.db.reading() as db:
            rows = db.execute(
                sql(
                    "SELECT id, kind, token, brand, last4, balance FROM payment_methods "
                    "WHERE account = :account AND user_id = :user ORDER BY id"
                ),
                owner.params(),
            ).mappings()
            return [PaymentMethod(**row) for row in rows]

    def payment_method(self, owner: Owner, method_id: str, db: Connection) -> PaymentMethod:
        row = (
            db.execute(
                sql(
                    "SELECT id, kind, token, brand, last4, balance FROM payment_methods "
                    "WHERE account = :account AND user_id = :user AND id = :id"
                ),
                owner.params(id=method_id),
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(f"No payment method '{method_id}' for user '{owner.user}'.")
        return PaymentMethod(**row)

    def add_card(self, owner: Owner, provider: Any, card_number: str) -> PaymentMethod:
        """Tokenize a card with the provider (which must offer ``tokenize``) and save the token."""
        token, brand, last4 = provider.tokenize(card_number)
        method = PaymentMethod("card_" + secrets.token_hex(4), "card", token, brand, last4)
        self.users.ensure(owner)
        with self.db.transaction() as db:
            _insert_methods(db, owner.account, owner.user, [method])
        return method


def address_from_json(text: str) -> Address:
    return Address(**json.loads(text))


def _insert_methods(db: Connection, account: str, user: str, methods: Iterable[PaymentMethod]) -> None:
    rows = [
        {
            "account": account,
            "user": user,
            "id": m.id,
            "kind": m.kind,
            "token": m.token,
            "brand": m.brand,
            "last4": m.last4,
            "balance": m.balance,
        }
        for m in methods
    ]
    if rows:
        db.execute(
            sql(
                "INSERT INTO payment_methods (account, user_id, id, kind, token, brand, last4, balance) "
                "VALUES (:account, :user, :id, :kind, :token, :brand, :last4, :balance) "
                "ON CONFLICT (account, user_id, id) DO UPDATE SET kind = excluded.kind, "
                "token = excluded.token, brand = excluded.brand, last4 = excluded.last4, "
                "balance = excluded.balance"
            ),
            rows,
        )


def write_customers(db: Connection, account: str, customers: Iterable[Customer], now: float) -> int:
    """Create (or update) each customer as a user of the account, with name, email, addresses and payment
    methods; a forgotten one stays forgotten (no user is made of them)."""
    count = 0
    for customer in customers:
        if customer.forgotten:
            continue
        count += 1
        owner = Owner(account, customer.user_id)
        db.execute(
            sql(
                "INSERT INTO users (account, user_id, created_at, name, email) "
                "VALUES (:account, :user, :now, :name, :email) "
                "ON CONFLICT (account, user_id) DO UPDATE SET name = excluded.name, email = excluded.email"
            ),
            owner.params(now=now, name=customer.name, email=customer.email),
        )
        for address in customer.addresses:
            db.execute(
                sql(
                    "INSERT INTO addresses (account, user_id, id, data) VALUES (:account, :user, :id, :data) "
                    "ON CONFLICT (account, user_id, id) DO UPDATE SET data = excluded.data"
                ),
                owner.params(id=address.id, data=json.dumps(asdict(address))),
            )
        _insert_methods(db, account, customer.user_id, customer.payment_methods)
    return count


def order_total(order: Order) -> int:
    """What the order costs: its own ``total``, or what its charges add up to, or (with none) its items less
    their discounts, plus shipping."""
    if order.total is not None:
        return order.total
    charged = sum(p.amount for p in order.payments if p.kind == "charge")
    return charged or sum(i.price * i.quantity - i.discount for i in order.items) + order.shipping


def imported_history(order: Order, at: float) -> tuple[OrderEvent, ...]:
    """The order's history as the file gives it, or (none given) one row: imported in its status at ``at``."""
    return order.history or (OrderEvent(order.status, at, IMPORTED_NOTE),)


def write_orders(db: Connection, account: str, orders: Iterable[Order], currency: str, now: float) -> int:
    """Imported orders, kept as they were: items with their discounts and states, shipping, discounts,
    payments with the provider's references, and the history (an order id already present is replaced)."""
    count = 0
    for order in orders:
        count += 1
        at = order.created_at if order.created_at is not None else now
        for table in ("order_items", "order_events", "payments", "orders"):
            column = "id" if table == "orders" else "order_id"
            db.execute(
                sql(f"DELETE FROM {table} WHERE account = :account AND {column} = :id"),
                {"account": account, "id": order.id},
            )
        method = next((p.method_id for p in order.payments if p.kind == "charge"), "")
        db.execute(
            sql(
                "INSERT INTO orders (account, id, user_id, status, address, currency, total, shipping, "
                "shipping_option, discounts, payment_method_id, created_at, updated_at, waiting) VALUES "
                "(:account, :id, :user, :status, :address, :currency, :total, :shipping, :option, "
                ":discounts, :method, :at, :updated, :waiting)"
            ),
            {
                "account": account,
                "id": order.id,
                "user": order.user_id,
                "status": order.status,
                "address": json.dumps(asdict(order.address) if order.address else None),
                "currency": currency,
                "total": order_total(order),
                "shipping": order.shipping,
                "option": order.shipping_option,
                "discounts": json.dumps([asdict(d) for d in order.discounts]),
                "method": method,
                "at": at,
                "updated": max([at, *(e.at for e in order.history)]),
                "waiting": json.dumps(order.waiting) if order.waiting else "",
            },
        )
        db.execute(
            sql(
                "INSERT INTO order_items (account, order_id, seq, variant_id, product_id, name, options, "
                "price, quantity, discount, state) VALUES (:account, :order, :seq, :variant, :product, "
                ":name, :options, :price, :quantity, :discount, :state)"
            ),
            [
                {
                    "account": account,
                    "order": order.id,
                    "seq": i,
                    "variant": item.variant_id,
                    "product": item.product_id,
                    "name": item.name,
                    "options": json.dumps(item.options),
                    "price": item.price,
                    "quantity": item.quantity,
                    "discount": item.discount,
                    "state": item.state,
                }
                for i, item in enumerate(order.items)
            ],
        )
        db.execute(
            sql(
                "INSERT INTO order_events (account, order_id, seq, status, note, at, carrier, "
                "tracking_number) VALUES (:account, :order, :seq, :status, :note, :at, :carrier, :tracking)"
            ),
            [
                {
                    "account": account,
                    "order": order.id,
                    "seq": i,
                    "status": e.status,
                    "note": e.note,
                    "at": e.at,
                    "carrier": e.carrier,
                    "tracking": e.tracking_number,
                }
                for i, e in enumerate(imported_history(order, at))
            ],
        )
        if order.payments:
            db.execute(
                sql(
                    "INSERT INTO payments (account, order_id, seq, kind, amount, method_id, provider_ref, "
                    "at) VALUES (:account, :order, :seq, :kind, :amount, :method, :reference, :at)"
                ),
                [
                    {
                        "account": account,
                        "order": order.id,
                        "seq": i,
                        "kind": p.kind,
                        "amount": p.amount,
                        "method": p.method_id,
                        "reference": p.reference,
                        "at": p.at if p.at is not None else at,
                    }
                    for i, p in enumerate(order.payments)
                ],
            )
    return count
