"""tau2-bench's retail database read as a store (``load_tau2``); writing it is not done.

The file (``data/tau2/domains/retail/db.json``, whose models are tau2's ``domains/retail/data_model.py``):
``products``, ``users`` and ``orders`` are objects keyed by id.
Prices and balances are float dollars; each becomes integer cents from the float's shortest decimal
form, rounded half-even to the cent (``50.88`` is 5088). tau2 has no categories: each distinct product
name becomes one, its id a slug of the name ("T-Shirt": ``t-shirt``). A user's one address becomes
their address ``"default"``; an order's address reuses it when equal and is ``"shipping"`` otherwise.
Credit cards become ``kind="card"`` and PayPal accounts ``kind="paypal"``, each with the test provider's
token ``tok_test_<payment method id>`` (``tok_test_credit_card_7971769``), which it approves; gift cards
keep their balance. Statuses are kept, except ``"pending (item modified)"``, which becomes ``"pending"``
with a history row saying its items were modified (so, under the store's rules, they change no more), and
a cancelled order's ``cancel_reason`` is its history row's note. The store's rules are tau2's policy
(``TAU2_RULES``: its cancel reasons, items changed once, no cancel after a change, customers identified
by email or name and zip). Payments become charges, refunds stay refunds. tau2 order items have no
quantity: each line stays one item of quantity 1. Not kept: fulfillments (tracking ids), the pending
exchange and return fields, and a user's ``orders`` list (an order's ``user_id`` says whose it is). A
``policy.md`` beside db.json, as tau2 ships it, becomes the store's policy.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ponder.commerce.formats.checks import (
    MAX_CENTS,
    Id,
    Name,
    Problems,
    StoreFormatError,
    order_money_problems,
)
from ponder.commerce.formats.reading import (
    DEFAULT_MAX_BYTES,
    in_folder,
    read_bytes,
    read_json,
)
from ponder.commerce.model import (
    CANCELLED_NOTE,
    IMPORTED_NOTE,
    MODIFIED_NOTE,
    Address,
    Category,
    Customer,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    PaymentMethod,
    PaymentRecord,
    Product,
    StoreData,
    StoreRules,
    Variant,
    items_modified,
)

__all__ = [
    "SHIPPED_NOTE",
    "TAU2_FILE",
    "TAU2_POLICY_FILE",
    "TAU2_RULES",
    "TAU2_STATUSES",
    "TEST_TOKEN_PREFIX",
    "load_tau2",
    "tau2_policy",
    "tau2_status",
    "tau2_store",
]

TAU2_FILE: Final = "db.json"
TAU2_POLICY_FILE: Final = "policy.md"
TEST_TOKEN_PREFIX: Final = "tok_test_"  # tokens the test payment provider approves
SHIPPED_NOTE: Final = "shipped: "  # a history row of a shipment, then the item ids in it
# tau2's retail policy (its policy.md and its tools' checks), as Ponder's machine-checked rules.
TAU2_RULES: Final = StoreRules(
    cancel_reasons=("no longer needed", "ordered by mistake"),
    item_changes="once",
    cancel_after_change=False,  # cancel_pending_order takes "pending" only, not "pending (item modified)"
    payment_changes=True,
    identify_by=("email", "name_zip"),
    money_moves="at_received",  # returns and exchanges are requested; the store settles them later
    return_refunds_to=("paying_method", "gift_card"),  # the original payment method, or a gift card
    difference_refunds_to=("any_method",),  # modify/exchange: any of the user's payment methods
)

# tau2's order statuses -> ours. "pending (item modified)" is pending whose items were changed once.
TAU2_STATUSES: Final[Mapping[str, OrderStatus]] = {
    "pending": "pending",
    "pending (item modified)": "pending",
    "processed": "processed",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "return requested": "return requested",
    "exchange requested": "exchange requested",
}


def load_tau2(
    path: str | os.PathLike[str],
    *,
    name: str = "tau2 retail",
    policy: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> StoreData:
    """The store in a tau2-bench retail ``db.json`` (or the directory holding one). ``policy``: the
    store's policy; by default the text of the ``policy.md`` beside the file, if there is one."""
    source = Path(path)
    follow = not source.is_dir()
    if not follow:  # the file is found in the folder: it stays in the folder
        source = in_folder(source, TAU2_FILE, source / TAU2_FILE)
    raw = read_json(source, max_bytes, follow=follow)
    return tau2_store(
        raw, source, name=name, policy=tau2_policy(source, max_bytes) if policy is None else policy
    )


def tau2_policy(db_file: Path, max_bytes: int) -> str:
    """The text of the ``policy.md`` beside ``db_file``, as tau2 ships it; "" when there is none."""
    if not (db_file.parent / TAU2_POLICY_FILE).is_file():
        return ""
    policy = in_folder(db_file.parent, TAU2_POLICY_FILE, db_file)
    try:
        return read_bytes(policy, max_bytes, db_file, follow=False).decode("utf-8").strip()
    except UnicodeDecodeError as err:
        raise StoreFormatError(db_file, [f"{policy.name}: not UTF-8 text ({err.reason})"]) from None


# --- the file's shape: tau2's models, what pydantic checks -----------------------------------------------

_Dollars = Annotated[float, Field(ge=0, le=MAX_CENTS / 100, allow_inf_nan=False)]


class _Tau2(BaseModel):
    # Strict types, but fields tau2 adds along the way (cancel_reason, exchange_items, ...) are ignored.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class _T2Variant(_Tau2):
    item_id: Id
    options: dict[str, str]
    available: bool
    price: _Dollars


class _T2Product(_Tau2):
    name: Name
    product_id: Id
    variants: dict[str, _T2Variant]


class _T2Name(_Tau2):
    first_name: str
    last_name: str


class _T2Address(_Tau2):
    address1: str
    address2: str
    city: str
    country: str
    state: str
    zip: str


class _T2PaymentMethod(_Tau2):
    source: Literal["credit_card", "paypal", "gift_card"]
    id: Id
    brand: str = ""  # credit cards
    last_four: str = ""  # credit cards
    balance: _Dollars | None = None  # gift cards


class _T2User(_Tau2):
    user_id: Id
    name: _T2Name
    address: _T2Address
    email: str
    payment_methods: dict[str, _T2PaymentMethod]
    orders: list[str] = []


class _T2OrderItem(_Tau2):
    name: Name
    product_id: str
    item_id: str
    price: _Dollars
    options: dict[str, str]


class _T2Payment(_Tau2):
    transaction_type: Literal["payment", "refund"]
    amount: _Dollars
    payment_method_id: str


class _T2Fulfillment(_Tau2):
    tracking_id: list[Annotated[str, Field(min_length=1, max_length=100)]]
    item_ids: list[str]


class _T2Order(_Tau2):
    order_id: Id
    user_id: str
    address: _T2Address
    items: list[_T2OrderItem]
    status: Literal[
        "pending",
        "pending (item modified)",
        "processed",
        "delivered",
        "cancelled",
        "return requested",
        "exchange requested",
    ]
    payment_history: list[_T2Payment]
    fulfillments: list[_T2Fulfillment] = []
    cancel_reason: str | None = None
    # A return or an exchange waiting for the items ("return requested", "exchange requested").
    return_items: list[str] | None = None
    return_payment_method_id: str | None = None
    exchange_items: list[str] | None = None
    exchange_new_items: list[str] | None = None
    exchange_payment_method_id: str | None = None
    exchange_price_difference: float | None = None


class _T2Db(_Tau2):
    products: dict[str, _T2Product]
    users: dict[str, _T2User]
    orders: dict[str, _T2Order]


def _cents(dollars: float) -> int:
    """Dollars as integer cents: the float's shortest decimal form, rounded half-even to the cent."""
    return int((Decimal(repr(dollars)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "product"


# --- building the model ----------------------------------------------------------------------------------


def tau2_store(raw: Any, source: Path, *, name: str, policy: str) -> StoreData:
    """The store in ``raw``, the parsed JSON of ``source`` (a db.json)."""
    problems = Problems(source)
    try:
        db = _T2Db.model_validate(raw)
    except ValidationError as err:
        problems.add_invalid(source.name, "", err)
        raise StoreFormatError(source, problems.listed, problems.total) from None
    builder = _Tau2Builder(source.name, problems)
    store = StoreData(
        name=name,
        currency="USD",
        products=builder.products(db.products),
        categories=tuple(builder.categories.values()),
        customers=builder.customers(db.users),
        orders=builder.orders(db.orders),
        policy=policy,
        rules=TAU2_RULES,
    )
    problems.raise_any()
    return store


class _Tau2Builder:
    def __init__(self, file: str, problems: Problems) -> None:
        self.loaded_at = time.time()  # the time of the history rows an import writes (tau2 keeps none)
        self.file = file
        self.problems = problems
        self.categories: dict[str, Category] = {}  # product name -> its category
        self.variants: dict[str, str] = {}  # item id -> product id
        self.by_user: dict[str, Customer] = {}
        self.listed_at: dict[str, float] = {}  # order id -> its time, from its place in its user's list

    def note(self, where: str, what: str) -> None:
        self.problems.add(self.file, where, what)

    def category(self, product_name: str) -> str:
        if product_name not in self.categories:
            taken = {c.id for c in self.categories.values()}
            slug, n = _slug(product_name), 2
            cid = slug
            while cid in taken:
                cid, n = f"{slug}-{n}", n + 1
            self.categories[product_name] = Category(id=cid, name=product_name)
        return self.categories[product_name].id

    def products(self, given: Mapping[str, _T2Product]) -> tuple[Product, ...]:
        out: list[Product] = []
        for key, p in given.items():
            where = f"products[{json.dumps(key)}]"
            if p.product_id != key:
                self.note(f"{where}.product_id", f"{p.product_id!r} is not the key it is filed under")
            if not p.variants:
                self.note(f"{where}.variants", "a product needs at least one variant")
            variants: list[Variant] = []
            for vkey, v in p.variants.items():
                vwhere = f"{where}.variants[{json.dumps(vkey)}]"
                if v.item_id != vkey:
                    self.note(f"{vwhere}.item_id", f"{v.item_id!r} is not the key it is filed under")
                if v.item_id in self.variants:
                    self.note(f"{vwhere}.item_id", f"duplicate item id {v.item_id!r}")
                self.variants.setdefault(v.item_id, p.product_id)
                variants.append(
                    Variant(
                        id=v.item_id,
                        product_id=p.product_id,
                        options=dict(v.options),
                        price=_cents(v.price),
                        available=v.available,
                    )
                )
            out.append(
                Product(
                    id=p.product_id, name=p.name, variants=tuple(variants), category=self.category(p.name)
                )
            )
        return tuple(out)

    def customers(self, given: Mapping[str, _T2User]) -> tuple[Customer, ...]:
        for key, u in given.items():
            where = f"users[{json.dumps(key)}]"
            if u.user_id != key:
                self.note(f"{where}.user_id", f"{u.user_id!r} is not the key it is filed under")
            full_name = f"{u.name.first_name} {u.name.last_name}".strip()
            for n, order_id in enumerate(u.orders):  # the list's order, as order times a second apart
                self.listed_at.setdefault(order_id, self.loaded_at - len(u.orders) + n)
            methods: list[PaymentMethod] = []
            for mkey, m in u.payment_methods.items():
                mwhere = f"{where}.payment_methods[{json.dumps(mkey)}]"
                if m.id != mkey:
                    self.note(f"{mwhere}.id", f"{m.id!r} is not the key it is filed under")
                methods.append(self.payment_method(mwhere, m))
            self.by_user[u.user_id] = Customer(
                user_id=u.user_id,
                name=full_name,
                email=u.email,
                addresses=(_tau2_address("default", u.address, full_name),),
                payment_methods=tuple(methods),
            )
        return tuple(self.by_user.values())

    def payment_method(self, where: str, m: _T2PaymentMethod) -> PaymentMethod:
        if m.source == "gift_card":
            if m.balance is None:
                self.note(f"{where}.balance", "a gift card needs a balance")
            return PaymentMethod(id=m.id, kind="gift_card", balance=_cents(m.balance or 0.0))
        token = TEST_TOKEN_PREFIX + m.id
        if m.source == "paypal":
            return PaymentMethod(id=m.id, kind="paypal", token=token)
        if not re.fullmatch(r"\d{4}", m.last_four):
            self.note(f"{where}.last_four", f"must be four digits, not {m.last_four!r}")
        return PaymentMethod(id=m.id, kind="card", token=token, brand=m.brand, last4=m.last_four)

    def orders(self, given: Mapping[str, _T2Order]) -> tuple[Order, ...]:
        return tuple(self.order(f"orders[{json.dumps(key)}]", key, o) for key, o in given.items())

    def order(self, where: str, key: str, o: _T2Order) -> Order:
        if o.order_id != key:
            self.note(f"{where}.order_id", f"{o.order_id!r} is not the key it is filed under")
        customer = self.by_user.get(o.user_id)
        if customer is None:
            self.note(f"{where}.user_id", f"unknown user {o.user_id!r}")
        if not o.items:
            self.note(f"{where}.items", "an order needs at least one item")
        for j, item in enumerate(o.items):
            product_id = self.variants.get(item.item_id)
            if product_id is None:
                self.note(f"{where}.items[{j}].item_id", f"unknown item {item.item_id!r}")
            elif product_id != item.product_id:
                what = f"item {item.item_id!r} is of product {product_id!r}, not {item.product_id!r}"
                self.note(f"{where}.items[{j}].product_id", what)
        address = _tau2_address("shipping", o.address, customer.name if customer else "")
        if customer is not None:
            methods = {m.id for m in customer.payment_methods}
            for j, pay in enumerate(o.payment_history):
                if pay.payment_method_id not in methods:
                    what = f"{o.user_id!r} has no payment method {pay.payment_method_id!r}"
                    self.note(f"{where}.payment_history[{j}].payment_method_id", what)
            if replace(address, id="default") == customer.addresses[0]:
                address = customer.addresses[0]
        for what in order_money_problems(
            [_cents(i.price) for i in o.items], [_cents(p.amount) for p in o.payment_history]
        ):
            self.note(where, what)
        items = (
            OrderItem(
                variant_id=i.item_id,
                product_id=i.product_id,
                name=i.name,
                options=i.options,
                price=_cents(i.price),
            )
            for i in o.items
        )
        payments = (
            PaymentRecord(
                kind="charge" if p.transaction_type == "payment" else "refund",
                amount=_cents(p.amount),
                method_id=p.payment_method_id,
            )
            for p in o.payment_history
        )
        return Order(
            id=o.order_id,
            user_id=o.user_id,
            status=TAU2_STATUSES[o.status],
            items=tuple(items),
            address=address,
            payments=tuple(payments),
            history=self.history(o),
            created_at=self.listed_at.get(o.order_id),
            waiting=self.waiting(o),
        )

    def waiting(self, o: _T2Order) -> dict[str, Any] | None:
        """A requested return or exchange, as Ponder waits for the items (model.Order.waiting): tau2's item
        ids become order lines, each line used once; an exchange's new items (tau2 keeps both lists sorted)
        go to the lines of their own product."""
        ids = [i.item_id for i in o.items]

        def lines(item_ids: list[str]) -> list[int]:
            taken: list[int] = []
            for item_id in item_ids:
                seq = next((n for n, i in enumerate(ids) if i == item_id and n not in taken), None)
                if seq is None:
                    self.note(
                        f"orders[{json.dumps(o.order_id)}]", f"no item {item_id!r} to return or exchange"
                    )
                    return taken
                taken.append(seq)
            return taken

        if o.status == "return requested" and o.return_items:
            return {
                "kind": "return",
                "items": lines(o.return_items),
                "method_id": o.return_payment_method_id or "",
            }
        if o.status == "exchange requested" and o.exchange_items and o.exchange_new_items:
            old = lines(o.exchange_items)
            new = list(o.exchange_new_items)
            swaps = []
            for seq in old:
                product = o.items[seq].product_id
                match = next((v for v in new if self.variants.get(v) == product), None)
                if match is None:
                    self.note(
                        f"orders[{json.dumps(o.order_id)}].exchange_new_items", f"none for item {ids[seq]!r}"
                    )
                    return None
                new.remove(match)
                swaps.append([seq, match])
            return {
                "kind": "exchange",
                "swaps": swaps,
                "method_id": o.exchange_payment_method_id or "",
                "difference": _cents(o.exchange_price_difference or 0.0),
            }
        return None

    def history(self, o: _T2Order) -> tuple[OrderEvent, ...]:
        """What the status alone cannot say, as Ponder's history says it: each shipment with its tracking id
        (``SHIPPED_NOTE`` and the items in it), then the order's status: modified items, a cancel reason."""
        at = self.listed_at.get(o.order_id, self.loaded_at)
        events = [
            OrderEvent("processed", at, f"{SHIPPED_NOTE}{', '.join(f.item_ids)}", tracking_number=tracking)
            for f in o.fulfillments
            for tracking in f.tracking_id
        ]
        note = IMPORTED_NOTE
        if o.status == "pending (item modified)":
            note = f"{MODIFIED_NOTE} (imported)"
        elif o.status == "cancelled" and o.cancel_reason:
            note = f"{CANCELLED_NOTE}{o.cancel_reason}"
        if events or note != IMPORTED_NOTE:
            events.append(OrderEvent(TAU2_STATUSES[o.status], at, note))
        return tuple(events)


def tau2_status(status: str, notes: Sequence[str]) -> str:
    """An order's status as tau2 writes it, from Ponder's status and its history's notes: a pending order
    whose items were modified is ``"pending (item modified)"``."""
    if status == "pending" and items_modified(notes):
        return "pending (item modified)"
    return status


def _tau2_address(address_id: str, a: _T2Address, name: str) -> Address:
    return Address(
        id=address_id,
        line1=a.address1,
        line2=a.address2,
        city=a.city,
        state=a.state,
        country=a.country,
        zip=a.zip,
        name=name,
    )
