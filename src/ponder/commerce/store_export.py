"""Reading a store back out of the database: ``export_store`` gives everything an account's store holds as a
``StoreData``, which ``dump_ponder`` writes as a store file (``ponder shop export``).

Importing what was exported gives the same store again: export, load, import and export once more, and the
two exports are equal. So each order carries what checkout priced into it (each line's share of the
discounts, the shipping, the discounts), what happened to it since (item states, its history with carriers
and tracking numbers, charges and refunds with the provider's references), and leaves out only what the
importer would make of its absence anyway (customers.py ``order_total``, ``imported_history``; a payment
made when the order was): an order imported from an older file is exported as that file had it.

Everything is read in one read transaction, on PostgreSQL at REPEATABLE READ, so an order placed while the
export runs is in it whole or not at all. Order is kept where the database keeps one: pricing rules in file
order, an order's lines, history and payments in theirs, orders by when they were placed. The rest comes
sorted by id (categories, products, variants, customers, their addresses and payment methods): the
database does not keep a store file's order for them.

Not kept (not the store's data, or not stored): product embeddings (computed again on import), the requests
that made each change (a retry's key), who watches an order (a UCP agent's webhooks), an order's currency
(the store's) and when it last changed, and the payment method an order names apart from its first charge.
The customers are the account's users, every one (a person who has only chatted is a customer with nothing
but an id). A customer forgotten since (``ponder forget-me``) keeps their orders, the store's books: the
export names them as a ``forgotten`` customer, with nothing else, and importing makes no user of them again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Row

from ponder.commerce.customers import address_from_json, imported_history, order_total
from ponder.commerce.model import (
    Address,
    Category,
    Customer,
    Order,
    OrderDiscount,
    OrderEvent,
    OrderItem,
    PaymentMethod,
    PaymentRecord,
    Product,
    Review,
    StoreData,
    Variant,
)
from ponder.commerce.store_pricing import read_pricing_rules
from ponder.commerce.store_rules import read_rules
from ponder.errors import NotFoundError
from ponder.store.database import Database, sql

__all__ = ["export_store"]

T = TypeVar("T")


def export_store(db: Database, account: str) -> StoreData:
    """Everything ``account``'s store holds, as one consistent snapshot; ``NotFoundError`` if it has none."""
    with db.reading() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for every statement, not one each
            conn.execute(sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        args = {"account": account}
        store = (
            conn.execute(sql("SELECT name, currency, policy FROM stores WHERE account = :account"), args)
            .mappings()
            .first()
        )
        if store is None:
            raise NotFoundError(
                f"Account '{account}' has no store to export: load one with `ponder shop load FILE`."
            )
        categories = tuple(
            Category(r.id, r.name, r.parent)
            for r in conn.execute(
                sql("SELECT id, name, parent FROM categories WHERE account = :account ORDER BY id"), args
            )
        )
        products = _products(conn, account)
        customers = _customers(conn, account)
        orders = _orders(conn, account)
        rules = read_pricing_rules(conn, account)
        store_rules = read_rules(conn, account)
    known = {c.user_id for c in customers}
    forgotten = {o.user_id for o in orders if o.user_id not in known}
    customers += [Customer(user_id, forgotten=True) for user_id in forgotten]
    return StoreData(
        name=store["name"],
        currency=store["currency"],
        categories=categories,
        products=products,
        customers=tuple(sorted(customers, key=lambda c: c.user_id)),
        orders=orders,
        policy=store["policy"],
        discount_codes=rules.discount_codes,
        shipping_options=rules.shipping_options,
        promotions=rules.promotions,
        rules=store_rules,
    )


def _products(conn: Connection, account: str) -> tuple[Product, ...]:
    args = {"account": account}
    variants: dict[str, list[Variant]] = {}  # product id -> its variants, by id
    for r in conn.execute(
        sql(
            "SELECT id, product_id, options, price, stock, available FROM variants "
            "WHERE account = :account ORDER BY product_id, id"
        ),
        args,
    ):
        stock = None if r.stock is None else int(r.stock)
        variant = Variant(r.id, r.product_id, json.loads(r.options), int(r.price), stock, bool(r.available))
        variants.setdefault(r.product_id, []).append(variant)
    return tuple(
        Product(
            id=r.id,
            name=r.name,
            variants=tuple(variants.get(r.id, ())),
            category=r.category,
            description=r.description,
            brand=r.brand,
            attributes=json.loads(r.attributes),
            reviews=tuple(Review(**review) for review in json.loads(r.reviews)),
            image_url=r.image_url,
        )
        for r in conn.execute(
            sql(
                "SELECT id, name, category, description, brand, attributes, reviews, image_url "
                "FROM products WHERE account = :account ORDER BY id"
            ),
            args,
        )
    )


def _customers(conn: Connection, account: str) -> list[Customer]:
    """Every user of the account, with the name, email, addresses and payment methods the store holds."""
    args = {"account": account}
    addresses: dict[str, list[Address]] = {}  # user id -> their addresses, by id
    for r in conn.execute(
        sql("SELECT user_id, data FROM addresses WHERE account = :account ORDER BY user_id, id"), args
    ):
        addresses.setdefault(r.user_id, []).append(address_from_json(r.data))
    methods: dict[str, list[PaymentMethod]] = {}  # user id -> their saved payment methods, by id
    for r in conn.execute(
        sql(
            "SELECT user_id, id, kind, token, brand, last4, balance FROM payment_methods "
            "WHERE account = :account ORDER BY user_id, id"
        ),
        args,
    ):
        balance = None if r.balance is None else int(r.balance)
        method = PaymentMethod(r.id, r.kind, r.token, r.brand, r.last4, balance)
        methods.setdefault(r.user_id, []).append(method)
    return [
        Customer(
            r.user_id,
            r.name,
            r.email,
            tuple(addresses.get(r.user_id, ())),
            tuple(methods.get(r.user_id, ())),
        )
        for r in conn.execute(
            sql("SELECT user_id, name, email FROM users WHERE account = :account ORDER BY user_id"), args
        )
    ]


def _orders(conn: Connection, account: str) -> tuple[Order, ...]:
    """The account's orders, oldest first, each with its lines, history and payments in their order."""
    args = {"account": account}
    items = _by_order(
        conn,
        "SELECT order_id, variant_id, product_id, name, options, price, quantity, discount, state "
        "FROM order_items WHERE account = :account ORDER BY order_id, seq",
        args,
        lambda r: OrderItem(
            r.variant_id,
            r.product_id,
            r.name,
            json.loads(r.options),
            int(r.price),
            int(r.quantity),
            int(r.discount),
            r.state,
        ),
    )
    history = _by_order(
        conn,
        "SELECT order_id, status, note, at, carrier, tracking_number FROM order_events "
        "WHERE account = :account ORDER BY order_id, seq",
        args,
        lambda r: OrderEvent(r.status, float(r.at), r.note, r.carrier, r.tracking_number),
    )
    payments = _by_order(
        conn,
        "SELECT order_id, kind, amount, method_id, provider_ref, at FROM payments "
        "WHERE account = :account ORDER BY order_id, seq",
        args,
        lambda r: PaymentRecord(r.kind, int(r.amount), r.method_id, r.provider_ref, float(r.at)),
    )
    orders = []
    for r in conn.execute(
        sql(
            "SELECT id, user_id, status, address, total, shipping, shipping_option, discounts, created_at, "
            "waiting FROM orders WHERE account = :account ORDER BY created_at, id"
        ),
        args,
    ):
        address = json.loads(r.address)  # null: an imported order without one, or a forgotten customer's
        order = Order(
            id=r.id,
            user_id=r.user_id,
            status=r.status,
            items=tuple(items.get(r.id, ())),
            address=Address(**address) if address is not None else None,
            payments=tuple(payments.get(r.id, ())),
            created_at=float(r.created_at),
            shipping=int(r.shipping),
            shipping_option=r.shipping_option,
            discounts=tuple(
                OrderDiscount(d["title"], int(d["amount"]), d["code"]) for d in json.loads(r.discounts)
            ),
            waiting=json.loads(r.waiting) if r.waiting else None,
        )
        orders.append(_as_filed(order, int(r.total), tuple(history.get(r.id, ()))))
    return tuple(orders)


def _by_order(
    conn: Connection, statement: str, args: Mapping[str, str], build: Callable[[Row[Any]], T]
) -> dict[str, list[T]]:
    """order id -> what ``build`` makes of each of its rows, in the rows' order."""
    out: dict[str, list[T]] = {}
    for r in conn.execute(sql(statement), args):
        out.setdefault(r.order_id, []).append(build(r))
    return out


def _as_filed(order: Order, total: int, history: tuple[OrderEvent, ...]) -> Order:
    """The order as its store file says it: without what the importer makes of its absence (a payment's
    time, when it is the order's; the one "imported" history row; the total its payments give)."""
    created_at = order.created_at
    payments = tuple(p if p.at != created_at else replace(p, at=None) for p in order.payments)
    plain = replace(order, payments=payments)
    if created_at is not None and history == imported_history(plain, created_at):
        history = ()
    return replace(plain, history=history, total=None if total == order_total(plain) else total)
