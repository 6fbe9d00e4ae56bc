"""What a store holds, as plain data: the shape every store format loads into and the engine imports.

Money is always an integer number of minor units (cents) with a currency code, never a float. Ids are the
store's own strings (a tau2 ``item_id`` such as "6086499569", a Ponder SKU such as "tee-red-m").

This module holds no behaviour beyond validation of a single value; formats/ parses files into a
``StoreData`` and the engine (catalog.py, orders.py, ...) stores it in its tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = [
    "CANCELLED_NOTE",
    "IMPORTED_NOTE",
    "MODIFIED_NOTE",
    "ORDER_STATUSES",
    "Address",
    "Category",
    "Customer",
    "DiscountCode",
    "DiscountKind",
    "ItemState",
    "Order",
    "OrderDiscount",
    "OrderEvent",
    "OrderItem",
    "OrderStatus",
    "PaymentKind",
    "PaymentMethod",
    "PaymentRecord",
    "Product",
    "Promotion",
    "RefundTo",
    "Review",
    "ShippingOption",
    "StoreData",
    "StoreRules",
    "Variant",
    "items_modified",
]

OrderStatus = Literal[
    "pending", "processed", "delivered", "cancelled", "return requested", "exchange requested"
]
ORDER_STATUSES: tuple[OrderStatus, ...] = get_args(OrderStatus)
# A row of an order's payments: a charge; a refund, back to a charge or to a gift card as store credit; a
# credit, money the provider pays to a saved card that did not pay the order (PaymentProvider's ``credit``).
PaymentKind = Literal["charge", "refund", "credit"]
ItemState = Literal["ordered", "returned", "exchanged"]  # an order line, after a return or an exchange
DiscountKind = Literal["percentage", "fixed_amount"]
# History notes that carry meaning (orders.py, swaps.py, customers.py write them; formats read them):
MODIFIED_NOTE = "items modified"  # a pending order's change of items
CANCELLED_NOTE = "cancelled: "  # a cancellation, then its reason
IMPORTED_NOTE = "imported"  # the one history row of an order imported without its history


def items_modified(notes: Iterable[str]) -> bool:
    """Whether an order's history notes say its items were changed while it was pending."""
    return any(note.startswith(MODIFIED_NOTE) for note in notes)


# Where money given back may go: "paying_method", a method that paid the order (up to what it paid);
# "gift_card", any of the customer's gift cards (store credit); "any_method", any of the customer's saved
# payment methods.
RefundTo = Literal["paying_method", "gift_card", "any_method"]
IdentifyBy = Literal["email", "name_zip"]  # how a conversation identifies a customer (identification.py)


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    parent: str | None = None  # a Category.id


@dataclass(frozen=True)
class Variant:
    """One thing that can be bought: a product in one combination of options."""

    id: str  # the SKU (tau2: item_id)
    product_id: str
    options: dict[str, str]  # option name -> value, e.g. {"size": "M", "color": "red"}
    price: int  # minor units
    stock: int | None = None  # None: not tracked (always available while ``available``)
    available: bool = True


@dataclass(frozen=True)
class Review:
    author: str
    rating: int  # 1-5
    text: str


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    variants: tuple[Variant, ...]
    category: str = ""  # a Category.id ("" : none)
    description: str = ""
    brand: str = ""
    attributes: dict[str, str | int | float | bool] = field(default_factory=dict)  # material, fit...
    reviews: tuple[Review, ...] = ()
    image_url: str = ""


@dataclass(frozen=True)
class Address:
    id: str
    line1: str
    city: str
    country: str
    line2: str = ""
    state: str = ""
    zip: str = ""
    name: str = ""  # the recipient


@dataclass(frozen=True)
class PaymentMethod:
    """A saved way to pay. Cards are stored as the provider's token plus brand and last four digits,
    never as a card number."""

    id: str
    kind: Literal["card", "gift_card", "paypal"]
    token: str = ""  # what the payment provider charges (cards, paypal)
    brand: str = ""
    last4: str = ""
    balance: int | None = None  # gift cards: what is left, in minor units


@dataclass(frozen=True)
class Customer:
    """A store customer: one user of the account (the memory issue's users)."""

    user_id: str
    name: str = ""
    email: str = ""
    addresses: tuple[Address, ...] = ()
    payment_methods: tuple[PaymentMethod, ...] = ()
    # Erased at their request (``ponder forget-me``): their orders stay, the store's books, and nothing else
    # does; importing makes no user of them again.
    forgotten: bool = False


@dataclass(frozen=True)
class OrderItem:
    variant_id: str
    product_id: str
    name: str
    options: dict[str, str]
    price: int  # minor units, each
    quantity: int = 1
    discount: int = 0  # minor units: the line's share of the order's discounts (paid price*quantity-this)
    state: ItemState = "ordered"


@dataclass(frozen=True)
class PaymentRecord:
    kind: PaymentKind
    amount: int  # minor units
    method_id: str  # a saved method of the customer, or one given for this order (then with a reference)
    reference: str = ""  # the provider's charge or refund id ("" : a gift card, imported, or not sent yet)
    at: float | None = None  # seconds since 1970; None: the order's created_at


@dataclass(frozen=True)
class OrderDiscount:
    """A discount an order was placed with: a code's, or an automatic promotion's (``code`` None)."""

    title: str
    amount: int  # minor units taken off
    code: str | None = None


@dataclass(frozen=True)
class OrderEvent:
    """A row of an order's history: the status it was in after a change, why, and a shipment's carrier and
    tracking number ("" : none given)."""

    status: str  # one of ORDER_STATUSES
    at: float  # seconds since 1970
    note: str = ""
    carrier: str = ""
    tracking_number: str = ""


@dataclass(frozen=True)
class Order:
    """An order as a store file carries it: imported history, or an order checkout placed, exported with what
    checkout priced into it (discounts, shipping) and what happened to it since (its history). Every field
    added after the first ones defaults to "nothing", so an older file means what it always meant."""

    id: str
    user_id: str
    status: str  # one of ORDER_STATUSES
    items: tuple[OrderItem, ...]
    address: Address | None = None
    payments: tuple[PaymentRecord, ...] = ()
    created_at: float | None = None
    # What it costs now, in minor units; None: what its charges add up to (with none: its items, less their
    # discounts, plus shipping). Given where money moved since (an item change refunded part of it).
    total: int | None = None
    shipping: int = 0  # minor units, in the total
    shipping_option: str = ""  # a ShippingOption.id when it was placed ("" : none)
    discounts: tuple[OrderDiscount, ...] = ()
    history: tuple[OrderEvent, ...] = ()
    # A return or an exchange waiting for the store to receive the items (StoreRules.money_moves): {"kind":
    # "return", "items": [seq...], "method_id"} or {"kind": "exchange", "swaps": [[seq, variant]...],
    # "method_id", "difference"}; None: nothing waits.
    waiting: dict[str, Any] | None = None  # oldest first; () : one "imported" row at created_at


@dataclass(frozen=True)
class DiscountCode:
    """A code a buyer may give: a percentage or a fixed amount off the items subtotal (pricing.py)."""

    code: str  # matched case-insensitively
    kind: DiscountKind
    value: int  # percentage: whole percent, 1-100; fixed_amount: minor units
    title: str = ""  # what the buyer sees ("" : made from the code and value)
    min_subtotal: int | None = None  # minor units: the items subtotal, before any discount, must reach it
    expires_at: float | None = None  # seconds since 1970: not valid from then on
    active: bool = True


@dataclass(frozen=True)
class ShippingOption:
    """A way to ship, at one price, to the countries listed, or to the rest of the world (none listed). For a
    country that has options of its own, they replace the rest-of-world options of the same service level
    (UCP's rates: "express" to the US replaces the default express, and the default standard stays)."""

    id: str
    title: str
    price: int  # minor units
    countries: tuple[str, ...] = ()  # ISO 3166-1 alpha-2 codes, upper case; () : the rest of the world
    service_level: str = ""  # "standard", "express", ...; "": one level shared by every option without one


@dataclass(frozen=True)
class Promotion:
    """An automatic promotion, applied without a code. Only free shipping so far: the shipping options
    named (all, if none are) cost nothing once the items, after discounts, reach ``min_subtotal``."""

    id: str
    kind: Literal["free_shipping"]
    title: str
    min_subtotal: int = 0  # minor units
    shipping_options: tuple[str, ...] = ()  # ShippingOption ids; () : every option
    items: tuple[str, ...] = ()  # product or variant ids: a cart holding any of them; () : any cart


@dataclass(frozen=True)
class StoreRules:
    """What a store allows, machine-checked beside the prose ``policy`` (the operations enforce them).
    The defaults are Ponder's own behaviour; a tau2 import sets tau2's policy (formats/tau2.py)."""

    cancel_reasons: tuple[str, ...] = ()  # the reasons a pending order may be cancelled for; () : any
    item_changes: Literal["once", "many"] = "once"  # how often a pending order's items may change
    cancel_after_change: bool = True  # a pending order whose items changed may still be cancelled
    payment_changes: bool = True  # a pending order may be paid with another saved method
    # When the money of a return or an exchange moves: when the person asks ("at_request"), or when the store
    # has the items back ("at_received": the request waits on the order, and the store's "received" step,
    # OrderBook.advance, refunds, or swaps the items and charges or refunds the difference).
    money_moves: Literal["at_request", "at_received"] = "at_request"
    identify_by: tuple[IdentifyBy, ...] = ()  # how conversations identify customers; () : they do not
    # Where a return's refund may go when the customer names a payment method (unnamed: the methods that
    # paid), and where a price difference in the customer's favour (an item change, an exchange) may go.
    return_refunds_to: tuple[RefundTo, ...] = ("paying_method",)
    difference_refunds_to: tuple[RefundTo, ...] = ("paying_method", "gift_card")


@dataclass(frozen=True)
class StoreData:
    """A whole store, as loaded from a file."""

    name: str
    currency: str = "USD"
    categories: tuple[Category, ...] = ()
    products: tuple[Product, ...] = ()
    customers: tuple[Customer, ...] = ()
    orders: tuple[Order, ...] = ()
    policy: str = ""  # the store's policy, in words, for the shopping mode
    discount_codes: tuple[DiscountCode, ...] = ()
    shipping_options: tuple[ShippingOption, ...] = ()
    promotions: tuple[Promotion, ...] = ()
    rules: StoreRules = field(default_factory=StoreRules)
