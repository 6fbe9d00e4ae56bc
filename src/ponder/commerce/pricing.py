"""Pricing a cart: discount codes, automatic promotions and shipping by destination, in one pure function.

``price_cart(lines, codes, destination, rules, now=...)`` gives a ``Priced``: the items subtotal, the
discounts applied (each with its amount and where it landed), the codes not applied (each with why), the
shipping options open to the destination with what each costs, and the total. Everything is integer minor
units; nothing here reads or writes a database.

The rules, following UCP's discount extension (dev.ucp.shopping.discount) where it speaks:

- Codes are matched case-insensitively and apply in the order given (UCP's ``priority``: first given,
  first applied). Each is computed on what the items still cost after the codes before it, rounded DOWN
  to the minor unit, and never takes more than is left, so the items never go below zero.
- A code is not applied, and is reported back with why (``Rejected``), when it is unknown, inactive,
  expired (``now >= expires_at``), given twice, or when the items subtotal before any discount is under
  its ``min_subtotal``. The reasons map to UCP's error codes with ``ucp_error_code``.
- A code's amount is allocated across the lines in proportion to what each still costs (UCP's
  ``across``), the remainder of the rounding going one unit at a time to the lines with the largest
  fractions (the earliest first on ties), so the allocations add up to the amount.
- Shipping: the options listing the destination country; if none lists it, the rest-of-world options
  (those listing no country). A free-shipping promotion makes its options cost 0 when the items, after
  the codes, reach its ``min_subtotal``. Choosing a free option adds the promotion to the applied
  discounts as an automatic one (no code) allocated to shipping, as UCP shows it.

Our choices where UCP does not speak: a percentage is a whole percent of what is left; the minimum of a
code is on the subtotal before discounts, the threshold of free shipping on the subtotal after them (what
the buyer pays for the items); a code that is valid but finds nothing left is applied with amount 0.

Not here: stock, taxes, storing codes or carts, and the wire format of UCP (the ucp/ layer maps to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from ponder.commerce.model import DiscountCode, Promotion, ShippingOption, StoreData
from ponder.errors import UserError

__all__ = [
    "MAX_CODES",
    "SHIPPING",
    "Allocation",
    "AppliedDiscount",
    "PriceLine",
    "Priced",
    "PricingRules",
    "RejectReason",
    "Rejected",
    "ShippingQuote",
    "checked_codes",
    "price_cart",
    "price_order",
    "shipping_quotes",
    "ucp_error_code",
]

RejectReason = Literal["unknown", "inactive", "expired", "below_minimum", "already_applied"]
SHIPPING: Final = -1  # an allocation's target when it is the shipping, not a line
MAX_CODES: Final = 10  # discount codes one checkout may carry

_UCP_ERRORS: Final[dict[RejectReason, str]] = {
    "unknown": "discount_code_invalid",
    "inactive": "discount_code_invalid",
    "expired": "discount_code_expired",
    "below_minimum": "discount_code_user_ineligible",  # UCP has no code for a minimum not reached
    "already_applied": "discount_code_already_applied",
}


@dataclass(frozen=True)
class PriceLine:
    variant_id: str
    price: int  # minor units, each
    quantity: int = 1
    product_id: str = ""  # what a promotion limited to some items may name instead of the variant


@dataclass(frozen=True)
class PricingRules:
    """A store's codes, shipping options and promotions."""

    discount_codes: tuple[DiscountCode, ...] = ()
    shipping_options: tuple[ShippingOption, ...] = ()
    promotions: tuple[Promotion, ...] = ()

    @classmethod
    def of(cls, store: StoreData) -> PricingRules:
        return cls(store.discount_codes, store.shipping_options, store.promotions)


@dataclass(frozen=True)
class Allocation:
    target: int  # the line's index in ``lines``, or SHIPPING
    amount: int


@dataclass(frozen=True)
class AppliedDiscount:
    title: str
    amount: int  # minor units, positive: what it took off
    code: str | None = None  # as the store spells it; None : automatic (a promotion)
    automatic: bool = False
    allocations: tuple[Allocation, ...] = ()


@dataclass(frozen=True)
class Rejected:
    code: str  # as given
    reason: RejectReason
    message: str


@dataclass(frozen=True)
class ShippingQuote:
    id: str
    title: str
    price: int  # the option's own price
    amount: int  # what the buyer pays for it: 0 when a promotion makes it free
    free_by: str | None = None  # the Promotion.id that made it free
    free_title: str | None = None  # and its title, what the buyer is told


@dataclass(frozen=True)
class Priced:
    subtotal: int  # the items, before discounts
    discounts: tuple[AppliedDiscount, ...]  # codes in order, then an automatic free shipping if chosen
    rejected: tuple[Rejected, ...]
    items_discount: int  # what the codes took off the items
    shipping_options: tuple[ShippingQuote, ...]  # open to the destination
    shipping: ShippingQuote | None  # the one chosen, if any
    total: int  # subtotal - items_discount + the chosen shipping's amount

    def line_discounts(self, lines: int) -> list[int]:
        """Each of the ``lines`` priced lines' share of the codes' discounts (the sum of its allocations)."""
        share = [0] * lines
        for discount in self.discounts:
            for allocation in discount.allocations:
                if allocation.target != SHIPPING:
                    share[allocation.target] += allocation.amount
        return share


def checked_codes(codes: Sequence[str]) -> list[str]:
    """Discount codes as given to a checkout, trimmed: at most ``MAX_CODES``, each 1 to 64 characters, or
    ``UserError``."""
    if len(codes) > MAX_CODES or any(not 1 <= len(code.strip()) <= 64 for code in codes):
        raise UserError(f"At most {MAX_CODES} discount codes, each 1 to 64 characters.")
    return [code.strip() for code in codes]


def ucp_error_code(reason: RejectReason) -> str:
    """The UCP discount extension's error code for a code not applied."""
    return _UCP_ERRORS[reason]


def price_cart(
    lines: Sequence[PriceLine],
    codes: Sequence[str],
    destination: str | None,
    rules: PricingRules,
    *,
    now: float,
    shipping_option: str | None = None,
) -> Priced:
    """The cart priced: ``codes`` applied in order, shipping quoted for the ``destination`` country (none
    without one), and ``shipping_option`` (an id among those quoted) charged. ``UserError`` if that option
    does not ship there."""
    for line in lines:
        if line.price < 0 or line.quantity < 0:
            raise UserError(f"A line's price and quantity are not negative ({line.variant_id}).")
    subtotal = sum(line.price * line.quantity for line in lines)
    left = [line.price * line.quantity for line in lines]  # what each line still costs
    discounts: list[AppliedDiscount] = []
    rejected: list[Rejected] = []
    by_code = {c.code.casefold(): c for c in rules.discount_codes}
    seen: set[str] = set()
    for given in codes:
        found = by_code.get(given.strip().casefold())
        reason = _why_not(found, given, seen, subtotal, now)
        if reason is not None:
            rejected.append(Rejected(given, reason, _message(given, reason, found)))
            continue
        assert found is not None
        seen.add(found.code.casefold())
        remaining = sum(left)
        percent = found.kind == "percentage"
        amount = remaining * found.value // 100 if percent else min(found.value, remaining)
        allocations = _allocate(amount, left)
        for a in allocations:
            left[a.target] -= a.amount
        discounts.append(AppliedDiscount(_title(found), amount, found.code, False, allocations))
    items_discount = subtotal - sum(left)
    held = {line.variant_id for line in lines if line.quantity} | {
        line.product_id for line in lines if line.quantity
    }
    quotes = (
        shipping_quotes(destination, subtotal - items_discount, rules, held - {""}) if destination else ()
    )
    chosen: ShippingQuote | None = None
    if shipping_option is not None:
        chosen = next((q for q in quotes if q.id == shipping_option), None)
        if chosen is None:
            where = f"to {destination}" if destination else "without a destination"
            raise UserError(f"The shipping option '{shipping_option}' does not ship {where}.")
        if chosen.free_by is not None and chosen.price:
            promotion = next(p for p in rules.promotions if p.id == chosen.free_by)
            shipping_off = (Allocation(SHIPPING, chosen.price),)
            discounts.append(AppliedDiscount(promotion.title, chosen.price, None, True, shipping_off))
    return Priced(
        subtotal=subtotal,
        discounts=tuple(discounts),
        rejected=tuple(rejected),
        items_discount=items_discount,
        shipping_options=quotes,
        shipping=chosen,
        total=subtotal - items_discount + (chosen.amount if chosen else 0),
    )


def price_order(
    lines: Sequence[PriceLine],
    codes: Sequence[str],
    destination: str | None,
    rules: PricingRules,
    *,
    now: float,
    shipping_option: str | None = None,
) -> Priced:
    """``price_cart``, and when no option is chosen and some ship to the destination, the cheapest of them
    for the buyer (what it costs them, then its own price; the store's order among equals) charged: what an
    order is priced at. ``UserError`` if the chosen option does not ship there."""
    cart = price_cart(lines, codes, destination, rules, now=now, shipping_option=shipping_option)
    if shipping_option is not None or not cart.shipping_options:
        return cart
    best = min(cart.shipping_options, key=lambda q: (q.amount, q.price))
    return price_cart(lines, codes, destination, rules, now=now, shipping_option=best.id)


def shipping_quotes(
    destination: str, items: int, rules: PricingRules, held: set[str] | frozenset[str] = frozenset()
) -> tuple[ShippingQuote, ...]:
    """The options that ship to the ``destination`` country, priced for ``items`` (what the items cost
    after discounts): those listing it, and the rest-of-world ones of the service levels it has none of;
    free where a promotion says so (one limited to some items: when ``held``, the cart's product and
    variant ids, holds one of them). In the store's order."""
    country = destination.strip().upper()
    levels = {o.service_level for o in rules.shipping_options if country in o.countries}
    options = [
        o
        for o in rules.shipping_options
        if country in o.countries or (not o.countries and o.service_level not in levels)
    ]
    quotes: list[ShippingQuote] = []
    for option in options:
        free = next(
            (
                p
                for p in rules.promotions
                if p.kind == "free_shipping"
                and items >= p.min_subtotal
                and (not p.shipping_options or option.id in p.shipping_options)
                and (not p.items or not held.isdisjoint(p.items))
            ),
            None,
        )
        amount = 0 if free is not None else option.price
        quotes.append(
            ShippingQuote(
                option.id,
                option.title,
                option.price,
                amount,
                free.id if free else None,
                free.title if free else None,
            )
        )
    return tuple(quotes)


def _why_not(
    found: DiscountCode | None, given: str, seen: set[str], subtotal: int, now: float
) -> RejectReason | None:
    if found is None:
        return "unknown"
    if found.code.casefold() in seen:
        return "already_applied"
    if not found.active:
        return "inactive"
    if found.expires_at is not None and now >= found.expires_at:
        return "expired"
    if found.min_subtotal is not None and subtotal < found.min_subtotal:
        return "below_minimum"
    return None


def _message(given: str, reason: RejectReason, found: DiscountCode | None) -> str:
    if reason == "below_minimum" and found is not None:
        return f"Code '{given}' needs items worth at least {found.min_subtotal} (minor units)."
    return {
        "unknown": f"Code '{given}' is not a code of this store.",
        "inactive": f"Code '{given}' is not active.",
        "expired": f"Code '{given}' has expired.",
        "already_applied": f"Code '{given}' is already applied.",
        "below_minimum": f"Code '{given}' needs a larger order.",
    }[reason]


def _title(code: DiscountCode) -> str:
    if code.title:
        return code.title
    return f"{code.value}% off" if code.kind == "percentage" else f"{code.code}: {code.value} off"


def _allocate(amount: int, left: Sequence[int]) -> tuple[Allocation, ...]:
    """``amount`` split over the lines in proportion to ``left`` (largest remainders get the rest)."""
    total = sum(left)
    if amount <= 0 or total <= 0:
        return ()
    shares = [amount * value // total for value in left]
    rest = amount - sum(shares)
    by_fraction = sorted(range(len(left)), key=lambda i: (-(amount * left[i] % total), i))
    for i in by_fraction[:rest]:
        shares[i] += 1
    return tuple(Allocation(i, share) for i, share in enumerate(shares) if share)
