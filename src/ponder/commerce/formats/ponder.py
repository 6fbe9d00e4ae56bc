"""Ponder's own store format, read (``load_ponder``) and written (``dump_ponder``).

The format is the model as JSON, money in integer cents, lists in file order::

    {"format": "ponder-store", "version": 1, "name": ..., "currency": "USD", "policy": ...,
     "categories": [{"id", "name", "parent"?}],
     "products": [{"id", "name", "category"?, "description"?, "brand"?, "attributes"?, "image_url"?,
                   "reviews"?: [{"author", "rating", "text"}],
                   "variants": [{"id", "options"?, "price", "stock"?, "available"?}]}],
     "products_file"?: "products.jsonl",
     "customers": [{"user_id", "name"?, "email"?, "addresses"?: [{"id", "line1", "city", "country",
                    ...}], "payment_methods"?: [{"id", "kind", "token"?, "brand"?, "last4"?, "balance"?}],
                    "forgotten"?}],
     "orders": [{"id", "user_id", "status", "items": [{"variant_id", "price", "quantity"?, "product_id"?,
                 "name"?, "options"?, "discount"?, "state"?: "ordered" | "returned" | "exchanged"}],
                 "address"? | "address_id"?, "payments"?: [{"kind", "amount", "method_id", "reference"?,
                 "at"?}], "created_at"?, "total"?, "shipping"?, "shipping_option"?,
                 "discounts"?: [{"title", "amount", "code"?}],
                 "history"?: [{"status", "at", "note"?, "carrier"?, "tracking_number"?}]}],
     "discount_codes"?: [{"code", "kind": "percentage" | "fixed_amount", "value", "title"?,
                          "min_subtotal"?, "expires_at"?, "active"?}],
     "shipping_options"?: [{"id", "title", "price", "countries"?: ["FR", ...], "service_level"?}],
     "promotions"?: [{"id", "kind": "free_shipping", "title", "min_subtotal"?, "shipping_options"?,
                      "items"?: [product or variant ids]}],
     "rules"?: {"cancel_reasons"?: [...], "item_changes"?: "once" | "many", "cancel_after_change"?,
                "payment_changes"?, "identify_by"?: ["email" | "name_zip"],
                "money_moves"?: "at_request" | "at_received",
                "return_refunds_to"?, "difference_refunds_to"?:
                    ["paying_method" | "gift_card" | "any_method"]}}

``rules`` are what the store allows, checked by the operations (``model.StoreRules`` says each; left out,
Ponder's defaults).

A big catalog goes in a JSONL file named by ``products_file`` (beside store.json, one product per
line) instead of ``products``. A variant sits under its product and may repeat its ``product_id``; an
order item's ``product_id``, ``name`` and ``options`` default to its variant's product, name and options
(what the item was when sold, when they differ); an order's ``address_id`` names one of its customer's
addresses; ``created_at`` is seconds since 1970 or an ISO 8601 time with a timezone. What checkout priced
into an order (``ponder shop export`` writes it; an older file has none, and means none): each item's
``discount`` (its line's share of the order's discounts, in cents), the ``shipping`` paid and the
``shipping_option`` chosen, the ``discounts`` applied (a code's, or a promotion's without ``code``), and the
``total`` when it is not what the charges add up to (an item change refunded part of it). What happened to
it since: an item's ``state``, each payment's provider ``reference`` and time ``at`` (default: the
order's), and the ``history`` of its status, oldest first, with a shipment's carrier and tracking number
(default: one row, "imported", at ``created_at``). A payment names one of the customer's payment methods,
or one given for that order alone, which the provider charged (a charge of it has a ``reference``); an
order's ``address`` may have no ``id`` (given for the order, not saved). A customer ``forgotten`` at their
request has nothing but a ``user_id``: their orders are the store's books, and name methods that are gone;
importing makes no user of them again. A discount code's
``value`` is a whole percent (1-100) or an amount in cents, and codes are unique ignoring case; its
``expires_at`` is a time like ``created_at``. A shipping option lists upper-case ISO country codes, or none
for the rest of the world; a promotion's ``shipping_options`` name options (none: all). A store file
without these three (older ones) loads with none: nothing is discounted and no shipping is quoted
(pricing.py says how they price a cart). Unknown fields are
refused: a typo is an error, not a silently missing value. ``dump_ponder`` writes every field that is not
its default, so loading what it wrote gives an equal ``StoreData``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import MISSING, fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ponder.commerce.formats.checks import (
    MAX_CENTS,
    Cents,
    Id,
    Name,
    Problems,
    StoreFormatError,
    duplicates,
    inside,
    json_type,
    order_money_problems,
)
from ponder.commerce.formats.reading import (
    DEFAULT_MAX_BYTES,
    NotStoreJson,
    in_folder,
    parse_json,
    read_bytes,
    read_json,
    write_atomic,
)
from ponder.commerce.model import (
    Address,
    Category,
    Customer,
    DiscountCode,
    ItemState,
    Order,
    OrderDiscount,
    OrderEvent,
    OrderItem,
    OrderStatus,
    PaymentMethod,
    PaymentRecord,
    Product,
    Promotion,
    RefundTo,
    Review,
    ShippingOption,
    StoreData,
    StoreRules,
    Variant,
)

__all__ = [
    "MAX_ITEM_QUANTITY",
    "MAX_STOCK",
    "PONDER_FILE",
    "PONDER_FORMAT",
    "PONDER_VERSION",
    "dump_ponder",
    "load_ponder",
    "ponder_document",
    "ponder_store",
]

PONDER_FORMAT: Final = "ponder-store"
PONDER_VERSION: Final = 1
PONDER_FILE: Final = "store.json"  # what load_store looks for in a directory, before TAU2_FILE
MAX_STOCK: Final = 10**9
MAX_ITEM_QUANTITY: Final = 10**6  # of one line of an imported order
MAX_TIMESTAMP: Final = 253_402_300_799.0  # 9999-12-31T23:59:59Z


def load_ponder(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> StoreData:
    """The store in a Ponder ``store.json`` (or the directory holding one), with its ``products_file``."""
    source = Path(path)
    if source.is_dir():  # the file is found in the folder: it stays in the folder
        source = in_folder(source, PONDER_FILE, source / PONDER_FILE)
        return ponder_store(read_json(source, max_bytes, follow=False), source, max_bytes)
    return ponder_store(read_json(source, max_bytes), source, max_bytes)


def dump_ponder(store: StoreData, path: str | os.PathLike[str], *, products_file: str | None = None) -> Path:
    """Write ``store`` in Ponder's format to ``path`` (a file, or a directory to hold ``store.json``);
    with ``products_file``, the products go one per line in that JSONL file beside it. Each file is
    replaced whole (written aside, then renamed). Returns the store.json written."""
    target = Path(path)
    if target.is_dir():
        target = target / PONDER_FILE
    doc = ponder_document(store)
    products = doc.pop("products", [])
    if products_file is not None:
        if Path(products_file).name != products_file:
            raise ValueError(f"products_file must be a file name beside {target.name}, not {products_file!r}")
        lines = "".join(json.dumps(p, ensure_ascii=False, allow_nan=False) + "\n" for p in products)
        write_atomic(target.parent / products_file, lines)
        doc["products_file"] = products_file
    elif products:
        doc["products"] = products
    write_atomic(target, json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=2) + "\n")
    return target


def ponder_document(store: StoreData) -> dict[str, Any]:
    """``store`` as the JSON document of a store.json holding its products: what ``dump_ponder`` writes,
    for a caller that writes it elsewhere (``ponder shop export`` to stdout)."""
    doc: dict[str, Any] = {"format": PONDER_FORMAT, "version": PONDER_VERSION}
    doc.update(_plain(store))
    return doc


# --- the file's shape: what pydantic checks --------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _PCategory(_Strict):
    id: Id
    name: Name
    parent: str | None = None


class _PVariant(_Strict):
    id: Id
    product_id: str | None = None  # optional: the product it is listed under
    options: dict[str, str] = {}
    price: Cents
    stock: Annotated[int, Field(ge=0, le=MAX_STOCK)] | None = None
    available: bool = True


class _PReview(_Strict):
    author: str
    rating: Annotated[int, Field(ge=1, le=5)]
    text: str


class _PProduct(_Strict):
    id: Id
    name: Name
    variants: list[_PVariant]
    category: str = ""
    description: str = ""
    brand: str = ""
    attributes: dict[str, Any] = {}  # str, int, float or bool values: checked by _attribute_problems
    reviews: list[_PReview] = []
    image_url: str = ""


class _PAddress(_Strict):
    id: Id
    line1: str
    city: str
    country: str
    line2: str = ""
    state: str = ""
    zip: str = ""
    name: str = ""


class _PPaymentMethod(_Strict):
    id: Id
    kind: Literal["card", "gift_card", "paypal"]
    token: str = ""
    brand: str = ""
    last4: str = ""
    balance: Cents | None = None


class _PCustomer(_Strict):
    user_id: Id
    name: str = ""
    email: str = ""
    addresses: list[_PAddress] = []
    payment_methods: list[_PPaymentMethod] = []
    forgotten: bool = False  # then nothing but the user_id


class _POrderItem(_Strict):
    variant_id: Id
    price: Cents  # each, as sold
    quantity: Annotated[int, Field(ge=1, le=MAX_ITEM_QUANTITY)] = 1
    product_id: str | None = None  # these three default to the variant's
    name: Name | None = None
    options: dict[str, str] | None = None
    discount: Cents = 0  # the whole line's share of the order's discounts: at most price times quantity
    state: ItemState = "ordered"


class _PPayment(_Strict):
    kind: Literal["charge", "refund", "credit"]
    amount: Cents
    method_id: Id
    reference: Name = ""
    at: Any = None  # like created_at; None: the order's


class _POrderAddress(_PAddress):
    id: str = ""  # an address given for one order has none


class _POrderDiscount(_Strict):
    title: Name
    amount: Cents
    code: str | None = None  # None: an automatic promotion's


class _POrderEvent(_Strict):
    status: OrderStatus
    at: Any  # like created_at
    note: str = ""
    carrier: Name = ""
    tracking_number: Name = ""


class _PWaiting(_Strict):
    """A return or an exchange waiting for the store to receive the items (model.Order.waiting)."""

    kind: Literal["return", "exchange"]
    items: list[Annotated[int, Field(ge=0)]] = []  # a return's order lines (seq)
    swaps: list[list[Annotated[int, Field(ge=0)] | Id]] = []  # an exchange's [seq, new variant]
    method_id: Id
    difference: Annotated[int, Field(ge=-MAX_CENTS, le=MAX_CENTS)] = 0  # an exchange's, + charged

    @field_validator("swaps")
    @classmethod
    def _pairs(cls, swaps: list[list[int | str]]) -> list[list[int | str]]:
        for pair in swaps:
            if len(pair) != 2 or not isinstance(pair[0], int) or not isinstance(pair[1], str):
                raise ValueError("each swap is [an order line's seq, the variant id it becomes]")
        return swaps


class _POrder(_Strict):
    id: Id
    user_id: Id
    status: OrderStatus
    items: list[_POrderItem]
    address: _POrderAddress | None = None
    address_id: str | None = None  # or: one of the customer's addresses, by id
    payments: list[_PPayment] = []
    created_at: Any = None  # seconds since 1970 or ISO 8601 with a timezone: checked by _timestamp
    total: Cents | None = None
    shipping: Cents = 0
    shipping_option: str = ""
    discounts: list[_POrderDiscount] = []
    history: list[_POrderEvent] = []
    waiting: _PWaiting | None = None


class _PDiscountCode(_Strict):
    code: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S+$")]
    kind: Literal["percentage", "fixed_amount"]
    value: Annotated[int, Field(ge=1, le=MAX_CENTS)]  # percent (1-100: checked by the builder) or cents
    title: Name = ""
    min_subtotal: Cents | None = None
    expires_at: Any = None  # like an order's created_at: checked by _timestamp
    active: bool = True


class _PShippingOption(_Strict):
    id: Id
    title: Name
    price: Cents
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = []
    service_level: str = Field(default="", max_length=40, pattern=r"^[a-z0-9_-]*$")


class _PPromotion(_Strict):
    id: Id
    kind: Literal["free_shipping"]
    title: Name
    min_subtotal: Cents = 0
    shipping_options: list[str] = []
    items: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default=[], max_length=1000)


class _PRules(_Strict):
    cancel_reasons: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default=[], max_length=50
    )
    item_changes: Literal["once", "many"] = "once"
    cancel_after_change: bool = True
    payment_changes: bool = True
    identify_by: list[Literal["email", "name_zip"]] = []
    money_moves: Literal["at_request", "at_received"] = "at_request"
    return_refunds_to: list[RefundTo] = Field(default=["paying_method"], min_length=1)
    difference_refunds_to: list[RefundTo] = Field(default=["paying_method", "gift_card"], min_length=1)


class _PStore(_Strict):
    format: str
    version: int
    name: Name
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    policy: str = ""
    categories: list[_PCategory] = []
    products: list[Any] = []  # each checked as a _PProduct, so that JSONL lines get their own places
    products_file: str | None = None
    customers: list[_PCustomer] = []
    orders: list[_POrder] = []
    discount_codes: list[_PDiscountCode] = []
    shipping_options: list[_PShippingOption] = []
    promotions: list[_PPromotion] = []
    rules: _PRules = _PRules()


# --- building the model: what pydantic cannot check ------------------------------------------------------


def ponder_store(raw: Any, source: Path, max_bytes: int) -> StoreData:
    """The store in ``raw``, the parsed JSON of ``source`` (a store.json), with its ``products_file``."""
    file = source.name
    if not isinstance(raw, dict):
        raise StoreFormatError(source, [f"{file}: a store is a JSON object, not {json_type(raw)}"])
    if raw.get("format") != PONDER_FORMAT:
        found = raw.get("format")
        raise StoreFormatError(
            source, [f"{file}: format: unknown store format {found!r} (expected {PONDER_FORMAT!r})"]
        )
    if raw.get("version") != PONDER_VERSION:
        found = raw.get("version")
        raise StoreFormatError(
            source, [f"{file}: version: {found!r} is not one this Ponder reads ({PONDER_VERSION})"]
        )
    problems = Problems(source)
    try:
        doc: _PStore | None = _PStore.model_validate(raw)
    except ValidationError as err:
        problems.add_invalid(file, "", err)
        doc = None
    # Products are validated one by one, each at its own place: products[i], or a line of the JSONL file.
    inline = raw.get("products")
    placed = [(file, f"products[{i}]", p) for i, p in enumerate(inline)] if isinstance(inline, list) else []
    products_file = raw.get("products_file")
    if isinstance(products_file, str):
        if inline:
            problems.add(file, "products_file", "a store has products or a products_file, not both")
        elif Path(products_file).name != products_file:
            problems.add(file, "products_file", f"{products_file!r} must be a file name beside {file}")
        else:
            found = in_folder(source.parent, products_file, source)
            placed = list(_jsonl_products(found, max_bytes, source, problems))
    products: list[tuple[str, str, _PProduct]] = []
    for pfile, where, given in placed:
        try:
            products.append((pfile, where, _PProduct.model_validate(given)))
        except ValidationError as err:
            problems.add_invalid(pfile, where, err)
    if doc is None:
        raise StoreFormatError(source, problems.listed, problems.total)
    store = _PonderBuilder(file, problems).build(doc, products)
    problems.raise_any()
    return store


def _jsonl_products(
    path: Path, max_bytes: int, source: Path, problems: Problems
) -> Iterator[tuple[str, str, Any]]:
    """(file and line, "", the parsed line) for each non-blank line; a line that is not JSON is a problem."""
    for n, line in enumerate(read_bytes(path, max_bytes, source, follow=False).splitlines(), start=1):
        if not line.strip():
            continue
        at = f"{path.name}, line {n}"
        try:
            yield at, "", parse_json(line)
        except json.JSONDecodeError as err:
            problems.add(at, "", f"invalid JSON at column {err.colno}: {err.msg}")
        except (NotStoreJson, UnicodeDecodeError) as err:
            problems.add(at, "", f"invalid JSON: {err}")


class _PonderBuilder:
    """Checks what pydantic cannot (ids, references) and builds the dataclasses, noting each problem."""

    def __init__(self, file: str, problems: Problems) -> None:
        self.file = file
        self.problems = problems
        self.variants: dict[str, tuple[Variant, Product]] = {}  # variant id -> it and its product

    def note(self, where: str, what: str, file: str | None = None) -> None:
        self.problems.add(file or self.file, where, what)

    def build(self, doc: _PStore, products: Sequence[tuple[str, str, _PProduct]]) -> StoreData:
        categories = self.categories(doc.categories)
        built = self.products(products, {c.id for c in categories})
        customers = self.customers(doc.customers)
        orders = self.orders(doc.orders, {c.user_id: c for c in customers})
        shipping = self.shipping_options(doc.shipping_options)
        return StoreData(
            name=doc.name,
            currency=doc.currency,
            categories=categories,
            products=built,
            customers=customers,
            orders=orders,
            policy=doc.policy,
            discount_codes=self.discount_codes(doc.discount_codes),
            shipping_options=shipping,
            promotions=self.promotions(doc.promotions, {o.id for o in shipping}),
            rules=StoreRules(
                cancel_reasons=tuple(doc.rules.cancel_reasons),
                item_changes=doc.rules.item_changes,
                cancel_after_change=doc.rules.cancel_after_change,
                payment_changes=doc.rules.payment_changes,
                identify_by=tuple(dict.fromkeys(doc.rules.identify_by)),
                money_moves=doc.rules.money_moves,
                return_refunds_to=tuple(dict.fromkeys(doc.rules.return_refunds_to)),
                difference_refunds_to=tuple(dict.fromkeys(doc.rules.difference_refunds_to)),
            ),
        )

    def discount_codes(self, given: Sequence[_PDiscountCode]) -> tuple[DiscountCode, ...]:
        for i, code in duplicates([c.code.casefold() for c in given]):
            self.note(f"discount_codes[{i}].code", f"duplicate code {code!r} (codes ignore case)")
        out: list[DiscountCode] = []
        for i, c in enumerate(given):
            if c.kind == "percentage" and c.value > 100:
                self.note(f"discount_codes[{i}].value", f"a percentage is at most 100, not {c.value}")
            expires_at = self.time(f"discount_codes[{i}].expires_at", c.expires_at)
            out.append(DiscountCode(**c.model_dump(exclude={"expires_at"}), expires_at=expires_at))
        return tuple(out)

    def shipping_options(self, given: Sequence[_PShippingOption]) -> tuple[ShippingOption, ...]:
        for i, oid in duplicates([o.id for o in given]):
            self.note(f"shipping_options[{i}].id", f"duplicate shipping option id {oid!r}")
        for i, o in enumerate(given):
            for j, country in duplicates(o.countries):
                self.note(f"shipping_options[{i}].countries[{j}]", f"{country!r} is listed twice")
        return tuple(
            ShippingOption(**o.model_dump(exclude={"countries"}), countries=tuple(o.countries)) for o in given
        )

    def promotions(self, given: Sequence[_PPromotion], options: set[str]) -> tuple[Promotion, ...]:
        for i, pid in duplicates([p.id for p in given]):
            self.note(f"promotions[{i}].id", f"duplicate promotion id {pid!r}")
        for i, p in enumerate(given):
            for j, oid in enumerate(p.shipping_options):
                if oid not in options:
                    self.note(f"promotions[{i}].shipping_options[{j}]", f"unknown shipping option {oid!r}")
        return tuple(
            Promotion(
                **p.model_dump(exclude={"shipping_options", "items"}),
                shipping_options=tuple(p.shipping_options),
                items=tuple(p.items),
            )
            for p in given
        )

    def categories(self, given: Sequence[_PCategory]) -> tuple[Category, ...]:
        for i, cid in duplicates([c.id for c in given]):
            self.note(f"categories[{i}].id", f"duplicate category id {cid!r}")
        parents = {c.id: c.parent for c in given}
        for i, c in enumerate(given):
            if c.parent is not None and c.parent not in parents:
                self.note(f"categories[{i}].parent", f"unknown category {c.parent!r}")
                continue
            seen: set[str] = {c.id}
            at = c.parent
            while at is not None and at not in seen:
                seen.add(at)
                at = parents.get(at)
            if at == c.id:
                self.note(f"categories[{i}].parent", f"category {c.id!r} is its own ancestor")
        return tuple(Category(**c.model_dump()) for c in given)

    def products(
        self, given: Sequence[tuple[str, str, _PProduct]], categories: set[str]
    ) -> tuple[Product, ...]:
        out: list[Product] = []
        seen: set[str] = set()
        for file, where, p in given:
            if p.id in seen:
                self.note(inside(where, "id"), f"duplicate product id {p.id!r}", file)
            seen.add(p.id)
            if p.category and p.category not in categories:
                self.note(inside(where, "category"), f"unknown category {p.category!r}", file)
            if not p.variants:
                self.note(inside(where, "variants"), "a product needs at least one variant", file)
            for name, what in _attribute_problems(p.attributes):
                self.note(inside(where, f"attributes[{json.dumps(name)}]"), what, file)
            product = Product(
                **p.model_dump(exclude={"variants", "reviews"}),
                variants=tuple(
                    Variant(**v.model_dump(exclude={"product_id"}), product_id=p.id) for v in p.variants
                ),
                reviews=tuple(Review(**r.model_dump()) for r in p.reviews),
            )
            for j, v in enumerate(p.variants):
                if v.product_id is not None and v.product_id != p.id:
                    what = f"names product {v.product_id!r} but is listed under {p.id!r}"
                    self.note(inside(where, f"variants[{j}].product_id"), what, file)
                if v.id in self.variants:
                    self.note(inside(where, f"variants[{j}].id"), f"duplicate variant id {v.id!r}", file)
                else:
                    self.variants[v.id] = (product.variants[j], product)
            out.append(product)
        return tuple(out)

    def customers(self, given: Sequence[_PCustomer]) -> tuple[Customer, ...]:
        for i, uid in duplicates([c.user_id for c in given]):
            self.note(f"customers[{i}].user_id", f"duplicate user id {uid!r}")
        for i, c in enumerate(given):
            for j, aid in duplicates([a.id for a in c.addresses]):
                self.note(f"customers[{i}].addresses[{j}].id", f"duplicate address id {aid!r}")
            for j, mid in duplicates([m.id for m in c.payment_methods]):
                self.note(f"customers[{i}].payment_methods[{j}].id", f"duplicate payment method id {mid!r}")
            for j, m in enumerate(c.payment_methods):
                for what in _payment_method_problems(m.kind, m.token, m.last4, m.balance):
                    self.note(f"customers[{i}].payment_methods[{j}]", what)
            if c.forgotten and (c.name or c.email or c.addresses or c.payment_methods):
                self.note(f"customers[{i}]", "a forgotten customer has nothing but their user_id")
        return tuple(
            Customer(
                **c.model_dump(exclude={"addresses", "payment_methods"}),
                addresses=tuple(Address(**a.model_dump()) for a in c.addresses),
                payment_methods=tuple(PaymentMethod(**m.model_dump()) for m in c.payment_methods),
            )
            for c in given
        )

    def orders(self, given: Sequence[_POrder], customers: Mapping[str, Customer]) -> tuple[Order, ...]:
        for i, oid in duplicates([o.id for o in given]):
            self.note(f"orders[{i}].id", f"duplicate order id {oid!r}")
        return tuple(self.order(f"orders[{i}]", o, customers.get(o.user_id)) for i, o in enumerate(given))

    def order(self, where: str, o: _POrder, customer: Customer | None) -> Order:
        if customer is None:
            self.note(f"{where}.user_id", f"unknown user {o.user_id!r}")
        if not o.items:
            self.note(f"{where}.items", "an order needs at least one item")
        items = tuple(self.order_item(f"{where}.items[{j}]", item) for j, item in enumerate(o.items))
        for what in order_money_problems(
            [i.price * i.quantity for i in items], [p.amount for p in o.payments]
        ):
            self.note(where, what)
        address = Address(**o.address.model_dump()) if o.address is not None else None
        if o.address_id is not None:
            if o.address is not None:
                self.note(f"{where}.address_id", "an order has an address or an address_id, not both")
            address = (
                next((a for a in customer.addresses if a.id == o.address_id), None) if customer else None
            )
            if address is None and customer is not None:
                self.note(f"{where}.address_id", f"{o.user_id!r} has no address {o.address_id!r}")
        if customer is not None and not customer.forgotten:  # a forgotten customer's methods are gone
            given = {p.method_id for p in o.payments if p.kind == "charge" and p.reference}  # for this order
            methods = {m.id for m in customer.payment_methods} | given
            for j, pay in enumerate(o.payments):
                if pay.method_id not in methods:
                    what = f"{o.user_id!r} has no payment method {pay.method_id!r}"
                    self.note(f"{where}.payments[{j}].method_id", what)
        created_at = self.time(f"{where}.created_at", o.created_at)
        payments = tuple(
            PaymentRecord(**p.model_dump(exclude={"at"}), at=self.time(f"{where}.payments[{j}].at", p.at))
            for j, p in enumerate(o.payments)
        )
        history = []
        for j, event in enumerate(o.history):
            at = self.time(f"{where}.history[{j}].at", event.at)
            if event.at is None:
                self.note(f"{where}.history[{j}].at", "a row of the history needs its time")
            history.append(OrderEvent(**event.model_dump(exclude={"at"}), at=0.0 if at is None else at))
        return Order(
            id=o.id,
            user_id=o.user_id,
            status=o.status,
            items=items,
            address=address,
            payments=payments,
            created_at=created_at,
            total=o.total,
            shipping=o.shipping,
            shipping_option=o.shipping_option,
            discounts=tuple(OrderDiscount(**d.model_dump()) for d in o.discounts),
            history=tuple(history),
            waiting=_waiting(o.waiting),
        )

    def time(self, where: str, value: object) -> float | None:
        """``_timestamp(value)``, a problem noted (and None) if it is not a time."""
        try:
            return _timestamp(value)
        except ValueError as err:
            self.note(where, str(err))
            return None

    def order_item(self, where: str, item: _POrderItem) -> OrderItem:
        if item.discount > item.price * item.quantity:
            line = item.price * item.quantity
            self.note(
                f"{where}.discount", f"{item.discount} is more than the line's {line} (price times quantity)"
            )
        found = self.variants.get(item.variant_id)
        if found is None:
            self.note(f"{where}.variant_id", f"unknown variant {item.variant_id!r}")
            return OrderItem(
                **item.model_dump(exclude={"product_id", "name", "options"}),
                product_id=item.product_id or "",
                name=item.name or "",
                options=item.options or {},
            )
        variant, product = found
        if item.product_id is not None and item.product_id != product.id:
            what = f"variant {item.variant_id!r} is of product {product.id!r}, not {item.product_id!r}"
            self.note(f"{where}.product_id", what)
        return OrderItem(
            **item.model_dump(exclude={"product_id", "name", "options"}),
            product_id=product.id if item.product_id is None else item.product_id,
            name=product.name if item.name is None else item.name,
            options=dict(variant.options if item.options is None else item.options),
        )


def _attribute_problems(attributes: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(name, what is wrong) for each attribute that is not a string, a finite number or true/false."""
    for name, value in attributes.items():
        if not isinstance(value, str | int | float) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            yield name, f"must be a string, a number or true/false, not {json_type(value)}"


def _payment_method_problems(kind: str, token: str, last4: str, balance: int | None) -> Iterator[str]:
    if kind in ("card", "paypal") and not token:
        yield f"a {kind} needs the payment provider's token"
    if last4 and not re.fullmatch(r"\d{4}", last4):
        yield f"last4 must be four digits, not {last4!r}"
    if kind == "gift_card" and balance is None:
        yield "a gift card needs a balance"
    if kind != "gift_card" and balance is not None:
        yield "only a gift card has a balance"


def _timestamp(value: object) -> float | None:
    """Seconds since 1970 from a number or an ISO 8601 time with a timezone; None stays None."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        if not 0 <= value <= MAX_TIMESTAMP:
            raise ValueError(f"{value!r} is not a time between 1970 and 9999")
        return float(value)
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time") from None
        if when.tzinfo is None:
            raise ValueError(f"{value!r} has no timezone (add Z or +00:00)")
        if not 0 <= when.timestamp() <= MAX_TIMESTAMP:
            raise ValueError(f"{value!r} is not a time between 1970 and 9999")
        return when.timestamp()
    raise ValueError(f"must be seconds since 1970 or an ISO 8601 time, not {json_type(value)}")


# --- writing ---------------------------------------------------------------------------------------------

# Fields dump_ponder leaves out because the nesting says them: a variant's product.
_NOT_WRITTEN: Final[Mapping[type, frozenset[str]]] = {Variant: frozenset({"product_id"})}


def _waiting(given: _PWaiting | None) -> dict[str, Any] | None:
    """A waiting return or exchange as the model keeps it: only the fields of its kind."""
    if given is None:
        return None
    if given.kind == "return":
        return {"kind": "return", "items": list(given.items), "method_id": given.method_id}
    swaps = [list(pair) for pair in given.swaps]
    return {"kind": "exchange", "swaps": swaps, "method_id": given.method_id, "difference": given.difference}


def _plain(value: Any) -> Any:
    """A model value as JSON data: dataclasses as objects without the fields at their defaults."""
    if is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        skip = _NOT_WRITTEN.get(type(value), frozenset())
        for f in fields(value):
            item = getattr(value, f.name)
            if f.name in skip:
                continue
            if f.default is not MISSING and item == f.default:
                continue
            if f.default_factory is not MISSING and item == f.default_factory():
                continue
            out[f.name] = _plain(item)
        return out
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
