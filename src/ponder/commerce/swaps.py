"""Item changes: a pending order's items swapped for other variants of the same product (``modify``), or
delivered items exchanged for variants of the same product (``exchange``), with the price difference
charged or refunded.

- **modify** (tau2's ``modify_pending_order_items``), once per order: each named item becomes another
  variant of its product; the new variants' stock is taken and the old ones' given back (first, so swapping
  two items' sizes needs no spare stock).
- **exchange** (tau2's ``exchange_delivered_order_items``), once per order: the old items are marked
  ``exchanged`` (to be sent back; not restocked until they are), the new ones are added to the order with
  their stock taken, and the order becomes "exchange requested".

Money. The difference is charged before the change is written, under an idempotency key made of the
order's version and the request's own key (a confirmation's action id), so a retry of that request after a
crash finds the first charge; a gift card pays it in the change's transaction instead. If the change cannot
be written after all (sold out, changed, a gift card spent meanwhile), the charge is refunded and the
history says so. A difference in the buyer's favour is booked as a refund (refunds.py) to where the
store's rules let it go (``StoreRules.difference_refunds_to``; by default a gift card, or a method that
paid the order, up to what it paid).

``quote`` says what a change would do now, checked as the change checks it, without doing it; a
confirmation pins its ``version`` and ``difference``, and the change refuses (``ConflictError``) if either
moved. Not here: cancellations, returns and address changes (orders.py).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy.engine import Connection

from ponder.commerce.crashpoints import crash_point
from ponder.commerce.customers import CustomerStore
from ponder.commerce.inventory import (
    debit_gift_card,
    give_back_stock,
    money,
    priced_variant,
    require_gift_card_covers,
    take_stock,
)
from ponder.commerce.model import MODIFIED_NOTE, items_modified
from ponder.commerce.order_records import (
    OrderView,
    add_event,
    check_version,
    made_by,
    read_order,
    set_status,
    set_waiting,
    version,
)
from ponder.commerce.payments import PaymentProvider
from ponder.commerce.refunds import (
    Refund,
    book_refund,
    known_charge,
    record_payment,
    require_refund_to,
    send_refunds,
    unsent_refunds,
)
from ponder.commerce.store_rules import read_rules
from ponder.errors import ConflictError, PaymentDeclinedError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = [
    "MODIFIED_NOTE",
    "ItemChanges",
    "Swap",
    "SwapKind",
    "refund_unwritten_charge",
    "release_unanswered_charge",
]

Swap = tuple[int, str]  # (an item's ``seq`` in the order, the variant id it becomes)
SwapKind = Literal["modify", "exchange"]


class ItemChanges:
    """Modifies a pending order's items and exchanges a delivered order's; ``OrderBook`` calls it."""

    def __init__(self, db: Database, provider: PaymentProvider, customers: CustomerStore) -> None:
        self.db = db
        self.provider = provider
        self.customers = customers

    def quote(
        self, owner: Owner, order_id: str, swaps: list[Swap], method_id: str, kind: SwapKind
    ) -> dict[str, Any]:
        """What the change would do now, checked as it would check it, without doing it: the lines (each
        item's old and new variant), the price ``difference`` (positive: charged to the payment method;
        negative: refunded to it), the new ``total``, the method, and the order's ``version``."""
        with self.db.reading() as db:
            return self._plan(db, owner, read_order(db, owner, order_id), swaps, method_id, kind)

    def change(
        self,
        owner: Owner,
        order_id: str,
        swaps: list[Swap],
        method_id: str,
        kind: SwapKind,
        if_version: str | None,
        if_difference: int | None,
        request_key: str | None,
        *,
        received: bool = False,
    ) -> OrderView:
        """Make the change (``OrderBook.modify_items`` and ``exchange_items`` say what the arguments do);
        the order afterwards. An exchange in a store whose money moves when it receives the items
        (``StoreRules.money_moves``) is only recorded as waiting, nothing charged, nothing swapped; the
        store's "received" step makes it (``received``: this is that step, for the order's waiting
        exchange)."""
        with self.db.reading() as db:
            made = made_by(db, owner.account, order_id, request_key)
            if not made:
                order = read_order(db, owner, order_id)
                plan = self._plan(db, owner, order, swaps, method_id, kind, received=received)
                waits = (
                    kind == "exchange"
                    and not received
                    and read_rules(db, owner.account).money_moves == "at_received"
                )
            else:
                read_order(db, owner, order_id)  # this user's order, or UnknownOrderError
                unsent = unsent_refunds(db, owner.account, order_id)
        if made:  # a retry of the request after its change was made: only its refunds still unsent
            send_refunds(self.db, self.provider, owner, order_id, unsent)
            return self._read(owner, order_id)
        check_version(order_id, plan["version"], if_version)
        difference, currency = plan["difference"], plan["currency"]
        if if_difference is not None and difference != if_difference:
            raise ConflictError(
                f"The price difference is now {money(difference, currency)}, not the "
                f"{money(if_difference, currency)} confirmed; nothing was changed."
            )
        if waits:
            return self._wait(owner, order_id, swaps, method_id, plan, request_key or "")
        key = swap_key(kind, order_id, plan["version"], request_key or secrets.token_hex(8))
        charge_id = ""
        crash_point("before_charge")
        if difference > 0 and plan["method"]["kind"] != "gift_card":  # a gift card pays in the transaction
            charge_id = self.provider.charge(
                amount=difference,
                currency=currency,
                token=plan["method"]["token"],
                idempotency_key=f"{owner.account}:{key}",
                description=f"Order {order_id}: price difference of an item {kind}",
            ).id
        crash_point("after_charge")
        try:
            with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
                if made_by(db, owner.account, order_id, request_key):  # the same request, at once
                    refunds = unsent_refunds(db, owner.account, order_id)
                else:
                    order = read_order(db, owner, order_id)
                    again = self._plan(db, owner, order, swaps, method_id, kind, received=received)
                    if again != plan:
                        raise ConflictError(
                            f"Order {order_id} changed while its items were being changed; nothing was "
                            "changed."
                        )
                    refunds = _write_swap(db, owner, order, plan, charge_id, request_key or "", received)
        except UserError as failed:  # sold out, changed, a gift card spent meanwhile: the charge goes back
            if charge_id:
                self._undo_charge(owner, plan, charge_id, key, str(failed))
            raise
        crash_point("after_write")
        send_refunds(self.db, self.provider, owner, order_id, refunds)
        return self._read(owner, order_id)

    def release_unanswered_charge(
        self,
        owner: Owner,
        order_id: str,
        kind: SwapKind,
        version: str,
        request_key: str,
        amount: int,
        method_id: str,
        why: str,
    ) -> None:
        """A change whose price difference the provider did not answer (``PaymentProviderError``) is refused
        when retried, because the order moved on: the charge it may have made would stay on the card, booked
        nowhere. Ask the provider again under the change's key (it answers with that first charge, or
        charges now if the first never reached it) and refund it, noting both in the history. A gift card or
        a difference of nothing charged nothing; a decline means nothing was charged."""
        key = swap_key(kind, order_id, version, request_key)

        def note(currency: str, refund_id: str) -> str:
            return (
                f"item {kind} not made ({why[:200]}); its price difference of {money(amount, currency)} was "
                f"charged and refunded ({refund_id})"
            )

        release_unanswered_charge(
            self.db,
            self.provider,
            self.customers,
            owner,
            order_id,
            method_id,
            amount,
            f"{owner.account}:{key}",
            f"Order {order_id}: price difference of an item {kind}",
            note,
        )

    def _read(self, owner: Owner, order_id: str) -> OrderView:
        with self.db.reading() as db:
            return read_order(db, owner, order_id)

    def _wait(
        self, owner: Owner, order_id: str, swaps: list[Swap], method_id: str, plan: dict[str, Any], key: str
    ) -> OrderView:
        """Record an exchange to be made when the store receives the items: nothing charged or swapped."""
        with self.db.transaction(lock=f"order:{owner.account}:{order_id}") as db:
            order = read_order(db, owner, order_id)
            if not made_by(db, owner.account, order_id, key):
                if self._plan(db, owner, order, swaps, method_id, "exchange") != plan:
                    raise ConflictError(f"Order {order_id} changed meanwhile; nothing was changed.")
                waiting = {
                    "kind": "exchange",
                    "swaps": [[line["seq"], line["new"]["variant_id"]] for line in plan["lines"]],
                    "method_id": method_id,
                    "difference": plan["difference"],
                }
                changes = ", ".join(f"item {s} -> {v}" for s, v in waiting["swaps"])
                note = f"exchange of {changes} requested; made when the store receives the items"
                set_status(db, owner.account, order_id, "exchange requested", note, key)
                set_waiting(db, owner.account, order_id, waiting)
        return self._read(owner, order_id)

    def _plan(
        self,
        db: Connection,
        owner: Owner,
        order: OrderView,
        swaps: list[Swap],
        method_id: str,
        kind: SwapKind,
        *,
        received: bool = False,
    ) -> dict[str, Any]:
        order_id, currency = order["id"], order["currency"]
        if kind == "modify" and order["status"] != "pending":
            raise ConflictError(
                f"Order {order_id} is {order['status']}: only a pending order's items can be changed."
            )
        if kind == "exchange" and order["status"] != ("exchange requested" if received else "delivered"):
            raise ConflictError(
                f"Order {order_id} is {order['status']}: only delivered items can be exchanged."
            )
        modified = items_modified(h["note"] for h in order["history"])
        rules = read_rules(db, owner.account) if kind == "modify" and modified else None
        if rules is not None and rules.item_changes == "once":
            can_cancel = " (it can still be cancelled)" if rules.cancel_after_change else ""
            raise ConflictError(
                f"The items of order {order_id} were already changed once; a pending order's items change "
                f"only once in this store{can_cancel}."
            )
        swaps = _normalized(swaps)
        by_seq = {i["seq"]: i for i in order["items"] if i["state"] == "ordered"}
        lines: list[dict[str, Any]] = []
        variants = []  # each line's new variant, as sold now
        need: dict[str, int] = {}  # variant -> how many the swaps take
        back: dict[str, int] = {}  # variant -> how many they give back (a pending order's old items)
        for seq, variant_id in swaps:
            item = by_seq.get(seq)
            if item is None:
                verb = "change" if kind == "modify" else "exchange"
                raise UserError(f"Order {order_id} has no item {seq} to {verb}.")
            variant = priced_variant(db, owner.account, variant_id)
            if variant.product_id != item["product_id"]:
                raise UserError(
                    f"'{variant_id}' is not a variant of {item['name']} (product {item['product_id']}): an "
                    "item can only be swapped for another variant of the same product."
                )
            if kind == "modify" and variant_id == item["variant_id"]:
                raise UserError(
                    f"Item {seq} of order {order_id} already is '{variant_id}': name another one."
                )
            need[variant_id] = need.get(variant_id, 0) + item["quantity"]
            if kind == "modify":  # a pending order's old items never left: they go back to stock
                back[item["variant_id"]] = back.get(item["variant_id"], 0) + item["quantity"]
            lines.append(
                {
                    "seq": seq,
                    "quantity": item["quantity"],
                    "old": {k: item[k] for k in ("variant_id", "name", "options", "price", "discount")},
                    "new": {
                        "variant_id": variant_id,
                        "product_id": variant.product_id,
                        "name": variant.name,
                        "options": variant.options,
                        "price": variant.price,
                        # the line keeps its share of the order's discounts, never more than it now costs
                        "discount": min(item["discount"], variant.price * item["quantity"]),
                    },
                }
            )
            variants.append(variant)
        for variant in variants:
            variant.require(need[variant.variant_id], returned=back.get(variant.variant_id, 0))
        difference = sum(
            _paid(line["new"], line["quantity"]) - _paid(line["old"], line["quantity"]) for line in lines
        )
        method = self.customers.payment_method(owner, method_id, db)
        if difference > 0:
            require_gift_card_covers(method, difference, currency, "the difference")
        if difference < 0:
            allowed = (rules or read_rules(db, owner.account)).difference_refunds_to
            require_refund_to(db, self.provider, owner.account, order, method, -difference, allowed)
        return {
            "order_id": order_id,
            "kind": kind,
            "currency": currency,
            "lines": lines,
            "difference": difference,
            "total": order["total"] + difference,
            "method": {"id": method.id, "kind": method.kind, "token": method.token},
            "version": version(order),
        }

    def _undo_charge(self, owner: Owner, plan: dict[str, Any], charge_id: str, key: str, why: str) -> None:
        """A difference was charged but the change could not be written: refund it, and say so in the
        history."""
        amount = plan["difference"]

        def note(refund_id: str) -> str:
            return (
                f"item {plan['kind']} not made ({why[:200]}); its price difference of "
                f"{money(amount, plan['currency'])} was charged ({charge_id}) and refunded ({refund_id})"
            )

        refund_unwritten_charge(
            self.db, self.provider, owner, plan["order_id"], charge_id, amount, f"{owner.account}:{key}", note
        )


def release_unanswered_charge(
    db: Database,
    provider: PaymentProvider,
    customers: CustomerStore,
    owner: Owner,
    order_id: str,
    method_id: str,
    amount: int,
    key: str,
    description: str,
    note: Callable[[str, str], str],
) -> None:
    """A change whose charge the provider did not answer, refused when retried because the order moved on:
    the charge it may have made would stay on the card, booked nowhere. Ask the provider again under the
    change's ``key`` (it answers with that first charge, or charges now if the first never reached it) and
    refund it, noting ``note(currency, refund id)`` in the history. A gift card or an amount of nothing
    charged nothing; a decline means nothing was charged."""
    if amount <= 0:
        return
    with db.reading() as conn:
        method = customers.payment_method(owner, method_id, conn)
        currency = conn.execute(
            sql("SELECT currency FROM orders WHERE account = :account AND id = :id"),
            {"account": owner.account, "id": order_id},
        ).scalar()
    if method.kind == "gift_card" or currency is None:
        return
    try:
        charge = provider.charge(
            amount=amount,
            currency=str(currency),
            token=method.token,
            idempotency_key=key,
            description=description,
        )
    except PaymentDeclinedError:
        return
    refund_unwritten_charge(
        db, provider, owner, order_id, charge.id, amount, key, lambda refund: note(str(currency), refund)
    )


def refund_unwritten_charge(
    db: Database,
    provider: PaymentProvider,
    owner: Owner,
    order_id: str,
    charge_id: str,
    amount: int,
    key: str,
    note: Callable[[str], str],
) -> None:
    """A charge made for a change that could not be written (an item change's difference, a change of
    payment method's new charge): refund it under ``key`` + ":undo" and add ``note(refund id)`` to the
    order's history. The pair stays out of ``payments`` (they cancel out, and the provider holds the refund
    against that very charge), so the rule refunds are booked by still matches the provider's books. A
    charge booked on the order paid for the same request's other attempt, made at once: it stays."""
    with db.reading() as conn:
        if known_charge(conn, owner.account, order_id, charge_id):
            return
    refund = provider.refund(charge_id=charge_id, amount=amount, idempotency_key=f"{key}:undo")
    with db.transaction(lock=f"order:{owner.account}:{order_id}") as conn:
        status = conn.execute(
            sql("SELECT status FROM orders WHERE account = :account AND id = :id"),
            {"account": owner.account, "id": order_id},
        ).scalar()
        if status is not None:
            add_event(conn, owner.account, order_id, str(status), note(refund.id), time.time())


def swap_key(kind: str, order_id: str, version: str, request_key: str) -> str:
    """The provider idempotency key (after the account) of an item change's price difference."""
    return f"{kind}:{order_id}:{version}:{request_key}"


def _write_swap(
    db: Connection,
    owner: Owner,
    order: OrderView,
    plan: dict[str, Any],
    charge_id: str,
    request_key: str,
    received: bool = False,
) -> list[Refund]:
    account, order_id, kind = owner.account, order["id"], plan["kind"]
    lines, difference, method = plan["lines"], plan["difference"], plan["method"]
    now = time.time()
    if kind == "modify":
        for line in lines:  # first everything back, so swapping two items' variants needs no spare stock
            give_back_stock(db, account, line["old"]["variant_id"], line["quantity"])
    for line in lines:
        take_stock(db, account, line["new"]["variant_id"], line["new"]["name"], line["quantity"])
    where = {"account": account, "order": order_id}
    first = 1 + max((i["seq"] for i in order["items"]), default=-1)  # an exchange's new items' numbers
    if kind == "modify":
        for line in lines:
            new = line["new"]
            db.execute(
                sql(
                    "UPDATE order_items SET variant_id = :variant, name = :name, options = :options, "
                    "price = :price, discount = :discount "
                    "WHERE account = :account AND order_id = :order AND seq = :seq"
                ),
                where
                | {
                    "seq": line["seq"],
                    "variant": new["variant_id"],
                    "name": new["name"],
                    "options": json.dumps(new["options"]),
                    "price": new["price"],
                    "discount": new.get("discount", 0),
                },
            )
    else:
        for n, line in enumerate(lines):
            new = line["new"]
            db.execute(
                sql(
                    "UPDATE order_items SET state = 'exchanged' "
                    "WHERE account = :account AND order_id = :order AND seq = :seq"
                ),
                where | {"seq": line["seq"]},
            )
            db.execute(
                sql(
                    "INSERT INTO order_items (account, order_id, seq, variant_id, product_id, name, options, "
                    "price, quantity, discount) VALUES (:account, :order, :seq, :variant, :product, :name, "
                    ":options, :price, :quantity, :discount)"
                ),
                where
                | {
                    "seq": first + n,
                    "variant": new["variant_id"],
                    "product": new["product_id"],
                    "name": new["name"],
                    "options": json.dumps(new["options"]),
                    "price": new["price"],
                    "quantity": line["quantity"],
                    "discount": new.get("discount", 0),
                },
            )
    db.execute(
        sql("UPDATE orders SET total = :total, updated_at = :now WHERE account = :account AND id = :order"),
        where | {"total": plan["total"], "now": now},
    )
    currency = plan["currency"]
    if difference > 0:
        if method["kind"] == "gift_card":
            debit_gift_card(db, owner, method["id"], difference, currency)
        record_payment(db, account, order_id, "charge", difference, method["id"], charge_id, now)
        money_note = f"{money(difference, currency)} charged to {method['id']}"
    elif difference < 0:
        money_note = f"{money(-difference, currency)} refunded to {method['id']}"
    else:
        money_note = "no price difference"
    changes = "; ".join(
        f"item {line['seq']} {line['old']['variant_id']} -> {line['new']['variant_id']}"
        + (f" (now item {first + n})" if kind == "exchange" else "")
        for n, line in enumerate(lines)
    )
    if kind == "modify":
        note = f"{MODIFIED_NOTE}: {changes}; {money_note}"
        add_event(db, account, order_id, "pending", note, now, request_key)
    elif received:  # the store has the items back: the exchange it waited for is made
        add_event(
            db,
            account,
            order_id,
            "exchange requested",
            f"items received: {changes}; {money_note}",
            now,
            request_key,
        )
        set_waiting(db, account, order_id, None)
    else:
        note = f"exchange of {changes}; {money_note}"
        set_status(db, account, order_id, "exchange requested", note, request_key)
    return book_refund(db, owner, order, -difference, method["id"]) if difference < 0 else []


def _normalized(swaps: list[Swap]) -> list[Swap]:
    if not swaps:
        raise UserError("Name at least one item of the order and the item it should become.")
    normal: list[Swap] = []
    for swap in swaps:
        if len(swap) != 2 or not isinstance(swap[0], int) or not isinstance(swap[1], str) or not swap[1]:
            raise UserError(f"A swap is an item's number in the order and a new item id (got {swap!r}).")
        normal.append((swap[0], swap[1]))
    seqs = [seq for seq, _ in normal]
    twice = next((seq for seq in seqs if seqs.count(seq) > 1), None)
    if twice is not None:
        raise UserError(f"Item {twice} of the order is named twice; name each item once.")
    return sorted(normal)


def _paid(side: dict[str, Any], quantity: int) -> int:
    """What a swap's old or new variant costs the line: its price times the quantity, less the line's share
    of the order's discounts (a plan stored before discounts existed has none)."""
    return int(side["price"]) * quantity - int(side.get("discount", 0))
