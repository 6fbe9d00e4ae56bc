"""Pending actions: what the model may only *propose*, and the person alone can confirm.

Every consequential action (place an order; cancel one, change its items or its address; return or
exchange delivered items) starts as a row in ``pending_actions`` for one user and exactly one thing: the
items, address and payment method of a checkout, or the order and its status (and for a change of items
or address, the order's version: its items, address, total and history as the person saw them), and the
amount. ``propose`` prices it, writes a summary for the person that says what changes and what money
moves, and returns a **confirmation token** (32 random bytes) whose SHA-256 alone is stored. The token goes
to the person's client (the CLI's yes/no prompt, the web page's button, an API client's ``ponder`` field),
never to the model: tools return ``PendingAction.for_model()``, which has no token. So no text a model reads
(a product description, a review, a tool result) can confirm anything, whatever it says.

``confirm`` checks the token (constant time), that the action is pending and not expired, and that what it
pins has not changed (the cart, the order's status or version, the price or the price difference): a
changed cart, order or price fails the action instead of buying or changing something the person did not
see. It then marks the action confirmed in the same transaction, so a token is consumed once, enqueues the
sweeper job, and carries it out.

The parts, each in its module:
- action_records.py: ``PendingAction``, its kinds and statuses, and its row (read, status set, lock name)
- action_summaries.py: the text the person reads, each value on one line, the model's words kept apart
- action_runs.py: ``ActionRunner``, carrying a confirmed action out, crash and retry included, and the
  sweeper (``SETTLE_ACTION``, ``settle_after``)

Not here: deciding what to propose (the model, through tools/), and refunds outside an order change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from ponder.commerce.action_records import (
    ACTION_KINDS,
    SETTLE_ACTION,
    ActionKind,
    ActionStatus,
    PendingAction,
    UnknownActionError,
    job_key,
    lock_name,
    read_action,
    read_row,
    set_status,
    to_action,
)
from ponder.commerce.action_runs import ActionRunner, settle_after
from ponder.commerce.action_summaries import (
    address_text,
    assistant_note,
    check_written_address,
    difference_text,
    method_text,
    one_line,
    options_text,
    order_items_text,
    swaps_text,
)
from ponder.commerce.carts import CartStore, fingerprint
from ponder.commerce.checkout import Checkout, LineItem
from ponder.commerce.consent import consent_text
from ponder.commerce.model import Address, PaymentMethod
from ponder.commerce.order_records import OrderView, paid, paid_for
from ponder.commerce.orders import OrderBook, Swap, money
from ponder.errors import ConflictError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql
from ponder.store.jobs import JobQueue

__all__ = [
    "ACTION_KINDS",
    "SETTLE_ACTION",
    "ActionDesk",
    "ActionKind",
    "ActionStatus",
    "PendingAction",
    "UnknownActionError",
    "money",
    "settle_after",
]

TTL_S = 15 * 60


class ActionDesk:
    def __init__(
        self,
        db: Database,
        checkout: Checkout,
        orders: OrderBook,
        carts: CartStore,
        on_done: Callable[[Owner, PendingAction, OrderView], None] | None = None,
    ) -> None:
        self.db = db
        self.checkout = checkout
        self.orders = orders
        self.carts = carts
        self.ttl_s: float = TTL_S  # how long a proposal waits for the person
        self.jobs = JobQueue(db)
        # when the sweeper looks at a confirmed action: after a live checkout's lease would have ended
        self.settle_after_s: float = settle_after(checkout.keys.lease_s)
        # carries confirmed actions out; on_done is told of every one (Shop records interest signals)
        self.runner = ActionRunner(db, checkout, orders, carts, self.jobs, on_done)

    # --- proposing --------------------------------------------------------------------------------------

    def propose_checkout(
        self,
        owner: Owner,
        *,
        address_id: str | None = None,
        payment_method_id: str | None = None,
        items: list[LineItem] | None = None,
        address: Address | None = None,
        method: PaymentMethod | None = None,
        codes: Sequence[str] = (),
        shipping_option: str | None = None,
        watchers: Sequence[dict[str, Any]] = (),
        consent: Mapping[str, bool] | None = None,
    ) -> tuple[PendingAction, str]:
        """Propose buying ``items`` (default: the cart as it is now), shipped to a saved address
        (``address_id``) or one given for this order (``address``), paid with a saved method
        (``payment_method_id``) or a provider token given for this order (``method``). What is given is kept
        in the action alone: the buyer's saved addresses and methods are not touched, now or when the person
        confirms (the order records the address, the charge uses the token). ``codes`` and
        ``shipping_option``: priced into the total the person confirms (Checkout.quote); ``watchers``: told
        of the order's changes once it is placed (Checkout.place_order); ``consent``: the buyer's choices
        (commerce/consent.py), shown in what the person confirms and recorded once the order is placed."""
        from_cart = items is None
        lines = self.carts.lines(owner) if items is None else items
        if not lines:
            raise UserError("The cart is empty: add items before checking out.")
        where: dict[str, Any] = {
            "address_id": address_id,
            "payment_method_id": payment_method_id,
            "address": address,
            "method": method,
            "codes": tuple(codes),
            "shipping_option": shipping_option,
        }
        quote = self.checkout.quote(owner, lines, **where)
        items_text = ", ".join(
            f"{i['quantity']} × {one_line(i['name'])}{options_text(i['options'])} at "
            f"{money(i['price'], quote['currency'])}"
            for i in quote["items"]
        )
        place = quote["address"]
        given = " (given for this order only)"
        summary = (
            f"Place an order: {items_text}; ship to {one_line(place['line1'])}, {one_line(place['city'])}"
            f"{given if address is not None else ''}; pay with {method_text(quote['method'])}"
            f"{given if method is not None else ''}.{_priced_with(quote)}{consent_text(consent or {})} "
            f"Total {money(quote['total'], quote['currency'])}."
        )
        arguments: dict[str, Any] = {
            "items": [[line.variant_id, line.quantity] for line in lines],
            "address_id": address_id,
            "payment_method_id": payment_method_id,
            "cart": fingerprint(lines) if from_cart else None,
        }
        if address is not None:
            arguments["address"] = asdict(address)
        if method is not None:
            arguments["payment_method"] = asdict(method)  # its token: used at confirmation, never shown
        if codes:
            arguments["codes"] = list(where["codes"])
        if quote["shipping_option"]:
            arguments["shipping_option"] = quote["shipping_option"]  # the one priced: the person saw it
        if watchers:
            arguments["watchers"] = list(watchers)
        if consent:
            arguments["consent"] = dict(consent)
        return self._propose(owner, "place_order", "", quote["total"], quote["currency"], arguments, summary)

    def propose_cancel(self, owner: Owner, order_id: str, reason: str) -> tuple[PendingAction, str]:
        order, reason = self.orders.check_cancel(owner, order_id, reason)  # the store's rules, checked now
        refund = paid(order)
        summary = (
            f"Cancel order {one_line(order_id)} ({order_items_text(order)}). "
            f"{money(refund, order['currency'])} goes back to {one_line(order['payment_method_id'])}."
        )
        arguments = {"order_id": order_id, "reason": reason, "status": order["status"]}
        return self._propose(owner, "cancel_order", order_id, refund, order["currency"], arguments, summary)

    def propose_return(
        self, owner: Owner, order_id: str, item_seqs: list[int], reason: str, method_id: str | None = None
    ) -> tuple[PendingAction, str]:
        """Propose returning delivered items, refunded to the methods that paid or to ``method_id`` where the
        store's rules let the customer name one."""
        order = self.orders.get(owner, order_id)
        if order["status"] != "delivered":
            raise ConflictError(
                f"Order {order_id} is {order['status']}: only delivered items can be returned."
            )
        by_seq = {i["seq"]: i for i in order["items"] if i["state"] == "ordered"}
        missing = [s for s in item_seqs if s not in by_seq]
        if not item_seqs or missing:
            raise UserError(
                f"Order {order_id} has no returnable item {missing[0] if missing else '(none named)'}."
            )
        twice = next((s for s in item_seqs if item_seqs.count(s) > 1), None)
        if twice is not None:  # it would be refunded twice
            raise UserError(f"Item {twice} of the order is named twice; name each item once.")
        amount = sum(paid_for(by_seq[s]) for s in item_seqs)
        with self.orders.db.reading() as db:
            to = self.orders.refund_to(db, owner, order, item_seqs, method_id)
        names = ", ".join(one_line(by_seq[s]["name"]) + options_text(by_seq[s]["options"]) for s in item_seqs)
        summary = (
            f"Return from order {one_line(order_id)}: {names}. "
            f"{money(amount, order['currency'])} goes back to {one_line(to or order['payment_method_id'])}."
        )
        arguments = {
            "order_id": order_id,
            "items": sorted(item_seqs),
            "reason": reason,
            "status": order["status"],
        }
        if to is not None:
            arguments["method_id"] = to
        return self._propose(owner, "return_items", order_id, amount, order["currency"], arguments, summary)

    def propose_modify(
        self, owner: Owner, order_id: str, swaps: list[Swap], payment_method_id: str
    ) -> tuple[PendingAction, str]:
        """Propose swapping items of a pending order, each ``(seq, new_variant_id)``, for other variants of
        the same product, the price difference charged to or refunded to ``payment_method_id``."""
        quote = self.orders.quote_modify(owner, order_id, swaps, payment_method_id)
        summary = (
            f"Change the items of pending order {one_line(order_id)}: {swaps_text(quote)}. "
            f"{difference_text(quote)} "
            f"New order total {money(quote['total'], quote['currency'])}. A pending order's items can be "
            "changed only once."
        )
        return self._propose_swaps(owner, "modify_items", quote, summary)

    def propose_exchange(
        self, owner: Owner, order_id: str, swaps: list[Swap], payment_method_id: str
    ) -> tuple[PendingAction, str]:
        """Propose exchanging delivered items, each ``(seq, new_variant_id)``, for variants of the same
        product, the price difference charged to or refunded to ``payment_method_id``."""
        quote = self.orders.quote_exchange(owner, order_id, swaps, payment_method_id)
        summary = (
            f"Exchange delivered items of order {one_line(order_id)}: {swaps_text(quote)}. "
            f"{difference_text(quote)} "
            'The order becomes "exchange requested": the old items are to be sent back and the new ones '
            "are shipped. A delivered order is returned or exchanged only once."
        )
        return self._propose_swaps(owner, "exchange_items", quote, summary)

    def propose_change_address(
        self, owner: Owner, order_id: str, *, address_id: str | None = None, address: Address | None = None
    ) -> tuple[PendingAction, str]:
        """Propose shipping a pending order to another address: a saved one (``address_id``) or a new one."""
        if address_id is not None and address is not None:
            raise UserError("Name a saved address (its id) or a new address, not both.")
        saved = address is None
        if address is None:
            if not address_id:
                raise UserError("Name the address to ship to: a saved one (its id) or a new one.")
            address = self.checkout.customers.address(owner, address_id)
        else:
            check_written_address(address)
        quote = self.orders.quote_change_address(owner, order_id, address)
        order = quote["order"]
        # The new address is what the person must check: on a line of its own, after the money line, and
        # labelled with where it came from (a saved address, or one the assistant wrote down in the chat).
        where_from = f"saved address {one_line(address.id)}" if saved else "as written in the chat, check it"
        summary = (
            f"Ship pending order {one_line(order_id)} ({order_items_text(order)}) to the new address below "
            f"instead of {address_text(quote['old'])}. No money moves.\n"
            f"New address ({where_from}): {address_text(quote['new'])}"
        )
        arguments = {
            "order_id": order_id,
            "address": quote["new"],
            "status": order["status"],
            "version": quote["version"],
        }
        return self._propose(owner, "change_address", order_id, 0, order["currency"], arguments, summary)

    def propose_change_payment(
        self, owner: Owner, order_id: str, payment_method_id: str
    ) -> tuple[PendingAction, str]:
        """Propose paying a pending order with another of the customer's saved methods."""
        quote = self.orders.quote_change_payment(owner, order_id, payment_method_id)
        order = quote["order"]
        amount = money(quote["amount"], quote["currency"])
        was = ", ".join(one_line(m) for m in quote["from"])
        summary = (
            f"Pay pending order {one_line(order_id)} ({order_items_text(order)}) with "
            f"{method_text(quote['method'])}{_card_digits(quote['method'])} instead of {was}: {amount} "
            f"charged to it, and the {amount} paid with {was} refunded."
        )
        arguments = {
            "order_id": order_id,
            "payment_method_id": payment_method_id,
            "status": order["status"],
            "version": quote["version"],
        }
        return self._propose(
            owner, "change_payment", order_id, quote["amount"], quote["currency"], arguments, summary
        )

    def _propose_swaps(
        self, owner: Owner, kind: ActionKind, quote: dict[str, Any], summary: str
    ) -> tuple[PendingAction, str]:
        arguments = {
            "order_id": quote["order_id"],
            "items": [[line["seq"], line["new"]["variant_id"]] for line in quote["lines"]],
            "payment_method_id": quote["method"]["id"],
            "difference": quote["difference"],  # positive: charged; negative: refunded
            "status": "pending" if kind == "modify_items" else "delivered",
            "version": quote["version"],
        }
        amount = abs(quote["difference"])
        return self._propose(owner, kind, quote["order_id"], amount, quote["currency"], arguments, summary)

    def _propose(
        self,
        owner: Owner,
        kind: ActionKind,
        target: str,
        amount: int,
        currency: str,
        arguments: dict[str, Any],
        summary: str,
    ) -> tuple[PendingAction, str]:
        token = secrets.token_urlsafe(32)
        now = time.time()
        action = PendingAction(
            "act_" + secrets.token_hex(8),
            kind,
            target,
            amount,
            currency,
            arguments,
            summary,
            "pending",
            None,
            now,
            now + self.ttl_s,
            assistant_note(arguments),
        )
        self.carts.users.ensure(owner)
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "INSERT INTO pending_actions (account, user_id, id, kind, target, amount, arguments, "
                    "summary, digest, secret_sha256, status, created_at, expires_at) "
                    "VALUES (:account, :user, :id, :kind, :target, :amount, :arguments, :summary, :digest, "
                    ":secret, 'pending', :now, :expires)"
                ),
                owner.params(
                    id=action.id,
                    kind=kind,
                    target=target,
                    amount=amount,
                    arguments=json.dumps(arguments | {"currency": currency}),
                    summary=summary,
                    digest=_digest(kind, target, amount, arguments),
                    secret=_sha(token),
                    now=now,
                    expires=action.expires_at,
                ),
            )
        return action, token

    # --- deciding ---------------------------------------------------------------------------------------

    def get(self, owner: Owner, action_id: str) -> PendingAction:
        return read_action(self.db, owner, action_id)

    def list_actions(self, owner: Owner, *, pending_only: bool = True) -> list[PendingAction]:
        with self.db.reading() as db:
            rows = db.execute(
                sql(
                    "SELECT * FROM pending_actions WHERE account = :account AND user_id = :user "
                    + ("AND status = 'pending' " if pending_only else "")
                    + "ORDER BY created_at"
                ),
                owner.params(),
            ).mappings()
            return [to_action(r) for r in rows]

    def decline(self, owner: Owner, action_id: str, token: str) -> PendingAction:
        with self.db.transaction(lock=lock_name(owner, action_id)) as db:
            row = read_row(db, owner, action_id)
            _check_token(row, token)
            if row["status"] != "pending":
                raise ConflictError(f"Action {action_id} is {row['status']}, not pending.")
            set_status(db, owner, action_id, "declined", None)
        return self.get(owner, action_id)

    def confirm(self, owner: Owner, action_id: str, token: str) -> PendingAction:
        """Carry out the action, if ``token`` is its token and nothing it pins has changed.

        Sent again after a crash or a lost answer, the same confirmation finishes the one action: a
        confirmed one (its first attempt died, or is still running) is carried on under the same keys, and
        ends done with its result if its effect had already happened; a done one is "already done" (the
        token works once; ``get`` has the result). A ``ConflictError`` with ``retry_after`` (the first
        attempt still holds its checkout) and a ``PaymentProviderError`` leave it confirmed, to be sent
        again."""
        with self.db.transaction(lock=lock_name(owner, action_id)) as db:
            row = read_row(db, owner, action_id)
            _check_token(row, token)
            status = row["status"]
            if status == "pending" and row["expires_at"] < time.time():
                set_status(db, owner, action_id, "expired", None)
                status = "expired"
            elif status == "pending":
                set_status(db, owner, action_id, "confirmed", None)  # consumed: the token works once
                status = "confirmed"
                # the sweeper: finishes it (or refunds its charge) if no confirmation ever comes back
                self.jobs.enqueue(
                    db,
                    SETTLE_ACTION,
                    job_key(owner, action_id),
                    {"account": owner.account, "user": owner.user, "action": action_id},
                    delay_s=self.settle_after_s,
                    max_attempts=20,
                )
        if status == "expired":
            raise ConflictError(f"Action {action_id} expired before it was confirmed; ask again.")
        if status != "confirmed":  # done, declined, failed: a token is used once (GET shows the result)
            raise ConflictError(f"Action {action_id} is already {status}.")
        return self.runner.run(owner, row)

    def settle(self, owner: Owner, action_id: str) -> PendingAction:
        """The sweeper's work (``SETTLE_ACTION`` jobs): ``ActionRunner.settle``."""
        return self.runner.settle(owner, action_id)

    def settle_job(self, payload: dict[str, Any]) -> None:
        """The ``SETTLE_ACTION`` job handler (``JobWorker``)."""
        self.settle(Owner(str(payload["account"]), str(payload["user"])), str(payload["action"]))


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _digest(kind: str, target: str, amount: int, arguments: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([kind, target, amount, arguments], sort_keys=True).encode()).hexdigest()


def _check_token(row: Any, token: str) -> None:
    if not hmac.compare_digest(row["secret_sha256"], _sha(token or "")):
        raise UserError("That confirmation token is not this action's.")


def _priced_with(quote: dict[str, Any]) -> str:
    """The discounts and shipping of a checkout's quote, in words (nothing for a store without them)."""
    currency = quote["currency"]
    parts = [
        f" {one_line(_discount_label(d['code'], d['title']))}: -{money(d['amount'], currency)}."
        for d in quote["discounts"]
        if d["amount"]
    ]
    if quote["shipping_option"]:
        title = quote.get("shipping_title") or quote["shipping_option"]
        parts.append(f" Shipping ({one_line(title)}): {money(quote['shipping'], currency)}.")
    return "".join(parts)


def _discount_label(code: str | None, title: str) -> str:
    """A discount as the person is shown it: its title, after the code they gave if it does not say it."""
    return title if code is None or code.casefold() in title.casefold() else f"Code {code}, {title}"


def _card_digits(method: dict[str, Any]) -> str:
    """A card's brand and last digits, for the person to recognise it (its token is never shown)."""
    return (
        f" ({one_line(method['brand'] or 'card')} ending {one_line(method['last4'])})"
        if method["last4"]
        else ""
    )
