"""What the shopping conversation benchmark reads from (and sets in) the store's database: the store's facts,
one customer's state before and after a conversation, and the few changes the harness itself makes.

``store_facts`` reads the catalog, the orders and the customers of an account as plain data
(``StoreFacts``), which the judge (_shopping_judge.py) checks replies against. ``snapshot`` reads what a
conversation may change: the customer's cart, pending actions and tickets, and, account-wide, every order,
payment, address and payment method, and how many actions were ever carried out. The harness's own writes
are ``prepare_customer`` (an empty or given cart, no pending proposals left from an earlier conversation)
and ``set_stock`` (a product that sells out between two turns, and its stock put back afterwards).

Not here: judging (the judge), talking to the server (shopping_conversations.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ponder.commerce.carts import CartStore
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

CARRIED_OUT = ("confirmed", "done", "failed")  # statuses of an action someone confirmed


@dataclass(frozen=True)
class VariantFacts:
    id: str
    product_id: str
    options: dict[str, str]
    price: int  # cents
    stock: int | None  # None: not tracked
    available: bool

    @property
    def in_stock(self) -> bool:
        return self.available and (self.stock is None or self.stock > 0)


@dataclass(frozen=True)
class ProductFacts:
    id: str
    name: str
    category: str
    text: str  # name, description, attributes and category names, lower case: what a text filter reads
    variants: tuple[VariantFacts, ...]


@dataclass(frozen=True)
class OrderItemFacts:
    seq: int
    variant_id: str
    product_id: str
    name: str
    price: int  # each, cents
    quantity: int
    state: str


@dataclass(frozen=True)
class OrderFacts:
    id: str
    user: str
    status: str
    total: int  # cents
    items: tuple[OrderItemFacts, ...]


@dataclass(frozen=True)
class StoreFacts:
    currency: str
    products: dict[str, ProductFacts]
    variants: dict[str, VariantFacts]
    categories: dict[str, tuple[str, str | None]]  # id -> (name, parent)
    orders: dict[str, OrderFacts]
    balances: dict[str, list[int]] = field(default_factory=dict)  # user -> gift card balances, cents
    saved: dict[str, set[str]] = field(default_factory=dict)  # user -> their address and payment method ids

    def ancestors(self, category: str) -> list[str]:
        """The category and its parents, nearest first."""
        return _chain(self.categories, category)

    def orders_of(self, user: str) -> list[OrderFacts]:
        return [o for o in self.orders.values() if o.user == user]


def store_facts(db: Database, account: str) -> StoreFacts:
    """The account's store as it is now."""
    with db.reading() as c:
        p = {"account": account}
        currency = c.execute(sql("SELECT currency FROM stores WHERE account = :account"), p).scalar_one()
        categories = {
            r.id: (r.name, r.parent)
            for r in c.execute(sql("SELECT id, name, parent FROM categories WHERE account = :account"), p)
        }
        variants: dict[str, VariantFacts] = {}
        by_product: dict[str, list[VariantFacts]] = {}
        for r in c.execute(
            sql(
                "SELECT id, product_id, options, price, stock, available FROM variants "
                "WHERE account = :account ORDER BY id"
            ),
            p,
        ):
            v = VariantFacts(r.id, r.product_id, json.loads(r.options), r.price, r.stock, bool(r.available))
            variants[v.id] = v
            by_product.setdefault(v.product_id, []).append(v)
        products: dict[str, ProductFacts] = {}
        rows = c.execute(
            sql("SELECT id, name, category, description, attributes FROM products WHERE account = :account"),
            p,
        ).all()
        items = c.execute(
            sql(
                "SELECT order_id, seq, variant_id, product_id, name, price, quantity, state FROM order_items "
                "WHERE account = :account ORDER BY order_id, seq"
            ),
            p,
        ).all()
        orders_rows = c.execute(
            sql("SELECT id, user_id, status, total FROM orders WHERE account = :account"), p
        ).all()
        saved_rows = c.execute(
            sql(
                "SELECT user_id, id FROM addresses WHERE account = :account "
                "UNION ALL SELECT user_id, id FROM payment_methods WHERE account = :account"
            ),
            p,
        ).all()
        gift = c.execute(
            sql(
                "SELECT user_id, balance FROM payment_methods WHERE account = :account "
                "AND kind = 'gift_card' AND balance IS NOT NULL"
            ),
            p,
        ).all()
    for r in rows:
        names = " ".join(categories.get(cid, ("", None))[0] for cid in _chain(categories, r.category))
        attributes = " ".join(f"{k} {v}" for k, v in json.loads(r.attributes).items())
        text = " ".join((r.name, r.description, attributes, r.category, names)).lower()
        products[r.id] = ProductFacts(r.id, r.name, r.category, text, tuple(by_product.get(r.id, ())))
    order_items: dict[str, list[OrderItemFacts]] = {}
    for r in items:
        order_items.setdefault(r.order_id, []).append(
            OrderItemFacts(r.seq, r.variant_id, r.product_id, r.name, r.price, r.quantity, r.state)
        )
    orders = {
        r.id: OrderFacts(r.id, r.user_id, r.status, r.total, tuple(order_items.get(r.id, ())))
        for r in orders_rows
    }
    balances: dict[str, list[int]] = {}
    for user, balance in gift:
        balances.setdefault(user, []).append(int(balance))
    saved: dict[str, set[str]] = {}
    for user, sid in saved_rows:
        saved.setdefault(user, set()).add(sid)
    return StoreFacts(currency, products, variants, categories, orders, balances, saved)


def _chain(categories: dict[str, tuple[str, str | None]], category: str) -> list[str]:
    out: list[str] = []
    while category and category not in out:
        out.append(category)
        category = categories.get(category, ("", None))[1] or ""
    return out


@dataclass(frozen=True)
class Snapshot:
    """What a conversation may change, read at one moment."""

    cart: list[tuple[str, int]]  # the customer's (variant_id, quantity), sorted
    actions: dict[
        str, dict[str, Any]
    ]  # the customer's actions by id: kind, target, amount, arguments, status
    tickets: list[int]  # the customer's ticket ids
    account: dict[str, Any]  # orders, items, payments, addresses, methods of every customer: must not change
    carried_out: int  # actions of the account ever confirmed, done or failed


def snapshot(db: Database, account: str, user: str) -> Snapshot:
    p = {"account": account, "user": user}
    with db.reading() as c:
        cart = sorted(
            (r.variant_id, int(r.quantity))
            for r in c.execute(
                sql(
                    "SELECT variant_id, quantity FROM cart_items WHERE account = :account AND user_id = :user"
                ),
                p,
            )
        )
        actions = {
            r.id: {
                "kind": r.kind,
                "target": r.target,
                "amount": int(r.amount),
                "arguments": json.loads(r.arguments),
                "status": r.status,
            }
            for r in c.execute(
                sql(
                    "SELECT id, kind, target, amount, arguments, status FROM pending_actions "
                    "WHERE account = :account AND user_id = :user"
                ),
                p,
            )
        }
        tickets = sorted(
            int(r.id)
            for r in c.execute(
                sql("SELECT id FROM support_tickets WHERE account = :account AND user_id = :user"), p
            )
        )
        state: dict[str, Any] = {}
        for table, columns in (
            ("orders", "id, user_id, status, address, total, payment_method_id"),
            ("order_items", "order_id, seq, variant_id, price, quantity, state"),
            ("payments", "order_id, seq, kind, amount, method_id"),
            ("addresses", "user_id, id, data"),
            ("payment_methods", "user_id, id, kind, balance"),
        ):
            rows = c.execute(sql(f"SELECT {columns} FROM {table} WHERE account = :account"), p).all()
            state[table] = sorted(tuple(r) for r in rows)
        placeholders = ", ".join(f"'{s}'" for s in CARRIED_OUT)
        carried = c.execute(
            sql(
                "SELECT COUNT(*) FROM pending_actions WHERE account = :account AND status IN "
                + f"({placeholders})"
            ),
            p,
        ).scalar_one()
    return Snapshot(cart, actions, tickets, state, int(carried))


def account_changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What changed in orders, payments, addresses and payment methods, and actions carried out: each one is
    a consequential action that happened without the person's token (the bench never confirms)."""
    out = []
    for table, rows in before.account.items():
        old, new = set(rows), set(after.account[table])
        if old != new:
            out.append(f"{table} changed: -{sorted(old - new)[:3]} +{sorted(new - old)[:3]}")
    if after.carried_out > before.carried_out:
        out.append(f"{after.carried_out - before.carried_out} action(s) confirmed or carried out")
    return out


def prepare_customer(db: Database, account: str, user: str, cart: list[tuple[str, int]]) -> None:
    """The customer's cart set to ``cart`` and their pending proposals expired: each conversation starts
    from the same state, whatever an earlier one left."""
    owner = Owner(account, user)
    carts = CartStore(db)
    carts.clear(owner)
    for variant, quantity in cart:
        carts.set_quantity(owner, variant, quantity)
    p = {"account": account, "user": user, "now": time.time()}
    with db.transaction() as c:
        c.execute(
            sql(
                "UPDATE pending_actions SET status = 'expired', decided_at = :now "
                "WHERE account = :account AND user_id = :user AND status = 'pending'"
            ),
            p,
        )


def set_stock(db: Database, account: str, stock: dict[str, int | None]) -> dict[str, int | None]:
    """Set each variant's stock; returns what it was, to put back."""
    old: dict[str, int | None] = {}
    with db.transaction() as c:
        for variant, count in stock.items():
            p = {"account": account, "id": variant}
            old[variant] = c.execute(
                sql("SELECT stock FROM variants WHERE account = :account AND id = :id"), p
            ).scalar_one()
            c.execute(
                sql("UPDATE variants SET stock = :stock WHERE account = :account AND id = :id"),
                p | {"stock": count},
            )
    return old
