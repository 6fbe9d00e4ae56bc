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
see. It then marks the action confirmed in the same transaction, so a token is consumed once, and carries
it out. Checkout runs with the action's id as its idempotency key, so a confirm retried after a crash
finishes the one order instead of placing another; a change of items is charged under a key derived
from the order's version and the change, and every order change records the action that made it
(orders.py), so its retry finds the change made instead of refusing an order that "moved on".

Crashes. A confirmed action ends ``done`` or ``failed`` only on a final answer: a checkout still in flight
(a ``ConflictError`` with ``retry_after``) or a provider that did not answer leaves it ``confirmed``, and the
same confirmation sent again carries it on (a done one is "already done"). Confirming enqueues, in the
same transaction, a sweeper job (``SETTLE_ACTION``, store/jobs.py) due after the checkout's lease: if the
person's client never comes back, it finishes the action as a retry would, so a charge whose order was
never written is completed or refunded by itself. ``crashpoints.py`` names the steps the tests and
bench/crash.py crash at.

The summary is built from the store's records only (the order, its items and amounts, saved addresses
and payment methods), each value on one line with control characters taken out. A checkout may instead
ship to an address and pay with a provider token given for that one order (an outside shopping agent's,
commerce/ucp/): the summary labels them "given for this order only", the action keeps them (its token
never shown: ``to_dict`` drops it), and nothing is added to the buyer's saved addresses or methods, not
even on confirmation: the order records the address and the charge uses the token. What the model wrote is
kept apart: a reason it gave is the action's ``assistant_note``, for clients to show labelled as the
assistant's words; a new address it typed for a change of address is the one thing the person is asked
to check, so it goes on a labelled line of its own, after the money line. Nothing the model writes can
reword, reorder or hide what the summary says; clients print both as text, never as markup.

Not here: deciding what to propose (the model, through tools/), and refunds outside an order change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from ponder.commerce.carts import CartStore, fingerprint
from ponder.commerce.checkout import Checkout, LineItem
from ponder.commerce.crashpoints import crash_point
from ponder.commerce.model import Address, PaymentMethod
from ponder.commerce.order_records import OrderView, paid
from ponder.commerce.orders import OrderBook, Swap, money
from ponder.errors import ConflictError, NotFoundError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql
from ponder.store.jobs import JobQueue

log = logging.getLogger(__name__)

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

ActionKind = Literal[
    "place_order", "cancel_order", "return_items", "modify_items", "exchange_items", "change_address"
]
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)
ActionStatus = Literal["pending", "confirmed", "done", "declined", "expired", "failed"]
TTL_S = 15 * 60
NOTE_CHARS = 500  # an assistant's note is cut here: it explains, it does not decide
ADDRESS_FIELD_CHARS = 200  # a field of an address written in the chat
# Characters that could break a summary line or reorder it on screen: controls, line and paragraph
# separators, and the bidirectional overrides and isolates.
_NOT_ON_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
SETTLE_ACTION = "action.settle"  # the sweeper's job kind (store/jobs.py)


class UnknownActionError(NotFoundError):
    """No such pending action for this user."""


@dataclass(frozen=True)
class PendingAction:
    id: str
    kind: ActionKind
    target: str  # the order id ("" : a new order)
    amount: int  # the money it moves, charged or refunded (0: none)
    currency: str
    arguments: dict[str, Any]
    summary: str  # what the action does, from the store's records (one fact per line)
    status: ActionStatus
    result: dict[str, Any] | None
    created_at: float
    expires_at: float
    assistant_note: str = ""  # the model's own words about it (a reason), shown apart and labelled

    def for_model(self) -> dict[str, Any]:
        """What the model may see: never the token, and a plain statement of where the decision lies."""
        return {
            "pending_action": self.id,
            "kind": self.kind,
            "summary": self.summary,
            "status": self.status,
            "note": "This waits for the user's own confirmation, given outside this conversation (a button "
            "or prompt of their app). Tell them what it is; do not ask them for any code.",
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": "pending_action",
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "amount": self.amount,
            "currency": self.currency,
            "arguments": _shown(self.arguments),
            "summary": self.summary,
            "assistant_note": self.assistant_note,
            "status": self.status,
            "result": self.result,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


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
        self.on_done = on_done  # told of every action carried out (Shop records interest signals)
        self.ttl_s: float = TTL_S  # how long a proposal waits for the person
        self.jobs = JobQueue(db)
        # when the sweeper looks at a confirmed action: after a live checkout's lease would have ended
        self.settle_after_s: float = settle_after(checkout.keys.lease_s)

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
    ) -> tuple[PendingAction, str]:
        """Propose buying ``items`` (default: the cart as it is now), shipped to a saved address
        (``address_id``) or one given for this order (``address``), paid with a saved method
        (``payment_method_id``) or a provider token given for this order (``method``). What is given is kept
        in the action alone: the buyer's saved addresses and methods are not touched, now or when the person
        confirms (the order records the address, the charge uses the token)."""
        from_cart = items is None
        lines = self.carts.lines(owner) if items is None else items
        if not lines:
            raise UserError("The cart is empty: add items before checking out.")
        where: dict[str, Any] = {
            "address_id": address_id,
            "payment_method_id": payment_method_id,
            "address": address,
            "method": method,
        }
        quote = self.checkout.quote(owner, lines, **where)
        items_text = ", ".join(
            f"{i['quantity']} × {_line(i['name'])}{_options(i['options'])} at "
            f"{money(i['price'], quote['currency'])}"
            for i in quote["items"]
        )
        place = quote["address"]
        given = " (given for this order only)"
        summary = (
            f"Place an order: {items_text}; ship to {_line(place['line1'])}, {_line(place['city'])}"
            f"{given if address is not None else ''}; pay with {_method(quote['method'])}"
            f"{given if method is not None else ''}. Total {money(quote['total'], quote['currency'])}."
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
        return self._propose(owner, "place_order", "", quote["total"], quote["currency"], arguments, summary)

    def propose_cancel(self, owner: Owner, order_id: str, reason: str) -> tuple[PendingAction, str]:
        order = self.orders.get(owner, order_id)
        if order["status"] != "pending":
            raise ConflictError(
                f"Order {order_id} is {order['status']}: only a pending order can be cancelled."
            )
        refund = paid(order)
        summary = (
            f"Cancel order {_line(order_id)} ({_items(order)}). "
            f"{money(refund, order['currency'])} goes back to {_line(order['payment_method_id'])}."
        )
        arguments = {"order_id": order_id, "reason": reason, "status": order["status"]}
        return self._propose(owner, "cancel_order", order_id, refund, order["currency"], arguments, summary)

    def propose_return(
        self, owner: Owner, order_id: str, item_seqs: list[int], reason: str
    ) -> tuple[PendingAction, str]:
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
        amount = sum(by_seq[s]["price"] * by_seq[s]["quantity"] for s in item_seqs)
        names = ", ".join(_line(by_seq[s]["name"]) + _options(by_seq[s]["options"]) for s in item_seqs)
        summary = (
            f"Return from order {_line(order_id)}: {names}. "
            f"{money(amount, order['currency'])} goes back to {_line(order['payment_method_id'])}."
        )
        arguments = {
            "order_id": order_id,
            "items": sorted(item_seqs),
            "reason": reason,
            "status": order["status"],
        }
        return self._propose(owner, "return_items", order_id, amount, order["currency"], arguments, summary)

    def propose_modify(
        self, owner: Owner, order_id: str, swaps: list[Swap], payment_method_id: str
    ) -> tuple[PendingAction, str]:
        """Propose swapping items of a pending order, each ``(seq, new_variant_id)``, for other variants of
        the same product, the price difference charged to or refunded to ``payment_method_id``."""
        quote = self.orders.quote_modify(owner, order_id, swaps, payment_method_id)
        summary = (
            f"Change the items of pending order {_line(order_id)}: {_swaps_text(quote)}. "
            f"{_difference_text(quote)} "
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
            f"Exchange delivered items of order {_line(order_id)}: {_swaps_text(quote)}. "
            f"{_difference_text(quote)} "
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
            _check_written_address(address)
        quote = self.orders.quote_change_address(owner, order_id, address)
        order = quote["order"]
        # The new address is what the person must check: on a line of its own, after the money line, and
        # labelled with where it came from (a saved address, or one the assistant wrote down in the chat).
        where_from = f"saved address {_line(address.id)}" if saved else "as written in the chat, check it"
        summary = (
            f"Ship pending order {_line(order_id)} ({_items(order)}) to the new address below instead of "
            f"{_place(quote['old'])}. No money moves.\n"
            f"New address ({where_from}): {_place(quote['new'])}"
        )
        arguments = {
            "order_id": order_id,
            "address": quote["new"],
            "status": order["status"],
            "version": quote["version"],
        }
        return self._propose(owner, "change_address", order_id, 0, order["currency"], arguments, summary)

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
            _assistant_note(arguments),
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
        with self.db.reading() as db:
            row = _row(db, owner, action_id)
        return _action(row)

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
            return [_action(r) for r in rows]

    def decline(self, owner: Owner, action_id: str, token: str) -> PendingAction:
        with self.db.transaction(lock=_lock(owner, action_id)) as db:
            row = _row(db, owner, action_id)
            _check_token(row, token)
            if row["status"] != "pending":
                raise ConflictError(f"Action {action_id} is {row['status']}, not pending.")
            _set(db, owner, action_id, "declined", None)
        return self.get(owner, action_id)

    def confirm(self, owner: Owner, action_id: str, token: str) -> PendingAction:
        """Carry out the action, if ``token`` is its token and nothing it pins has changed.

        Sent again after a crash or a lost answer, the same confirmation finishes the one action: a
        confirmed one (its first attempt died, or is still running) is carried on under the same keys, and
        ends done with its result if its effect had already happened; a done one is "already done" (the
        token works once; ``get`` has the result). A ``ConflictError`` with ``retry_after`` (the first
        attempt still holds its checkout) and a ``PaymentProviderError`` leave it confirmed, to be sent
        again."""
        with self.db.transaction(lock=_lock(owner, action_id)) as db:
            row = _row(db, owner, action_id)
            _check_token(row, token)
            status = row["status"]
            if status == "pending" and row["expires_at"] < time.time():
                _set(db, owner, action_id, "expired", None)
                status = "expired"
            elif status == "pending":
                _set(db, owner, action_id, "confirmed", None)  # consumed: the token works once
                status = "confirmed"
                # the sweeper: finishes it (or refunds its charge) if no confirmation ever comes back
                self.jobs.enqueue(
                    db,
                    SETTLE_ACTION,
                    _job_key(owner, action_id),
                    {"account": owner.account, "user": owner.user, "action": action_id},
                    delay_s=self.settle_after_s,
                    max_attempts=20,
                )
        if status == "expired":
            raise ConflictError(f"Action {action_id} expired before it was confirmed; ask again.")
        if status != "confirmed":  # done, declined, failed: a token is used once (GET shows the result)
            raise ConflictError(f"Action {action_id} is already {status}.")
        return self._run(owner, row)

    def settle(self, owner: Owner, action_id: str) -> PendingAction:
        """The sweeper's work (``SETTLE_ACTION`` jobs): an action confirmed but never finished (its request
        died after the person confirmed) is carried on as a repeated confirmation would, without the token
        the person already gave: its checkout finished under its key, or the charge refunded if the order
        cannot be written; its order change found made, or made. Raises what a retry may fix (the job is
        retried); returns the action as it ends otherwise."""
        with self.db.reading() as db:
            row = _row(db, owner, action_id)
        if row["status"] != "confirmed":
            return _action(row)
        try:
            return self._run(owner, row)
        except ConflictError as error:
            if error.retry_after is not None:
                raise
        except UserError:
            pass  # a final failure, recorded
        return self.get(owner, action_id)

    def settle_job(self, payload: dict[str, Any]) -> None:
        """The ``SETTLE_ACTION`` job handler (``JobWorker``)."""
        self.settle(Owner(str(payload["account"]), str(payload["user"])), str(payload["action"]))

    def _run(self, owner: Owner, row: Any) -> PendingAction:
        action = _action(row)
        try:
            result = self._carry_out(owner, action)
        except ConflictError as error:
            if error.retry_after is not None:  # in flight elsewhere: not a final answer
                raise
            self._fail(owner, row, action, error)
            raise
        except UserError as error:
            self._fail(owner, row, action, error)
            raise
        finished = self._finish(owner, action.id, "done", dict(result))
        if finished and self.on_done is not None:
            try:
                self.on_done(owner, action, result)
            except Exception:  # what it records is secondary: the action is done, and says so
                log.warning("after action %s: on_done failed", action.id, exc_info=True)
        crash_point("before_answer")
        return self.get(owner, action.id)

    def _fail(self, owner: Owner, row: Any, action: PendingAction, error: UserError) -> None:
        if row["status"] == "confirmed":  # a retry: the first attempt may have charged, unanswered
            self._release(owner, action, str(error))
        self._finish(owner, action.id, "failed", {"error": str(error)})

    def _carry_out(self, owner: Owner, action: PendingAction) -> OrderView:
        args = action.arguments
        if action.kind == "place_order":
            lines = [LineItem(v, int(q)) for v, q in args["items"]]
            # What the action pins is checked before its checkout begins. Once it has (the provider did not
            # answer, or a crash), confirming again finishes that checkout under its key whatever changed
            # since: the provider may have charged, and only the same key finds the charge and then writes
            # the order (or refunds it, if the stock is gone). Refused here, it would stay charged.
            if not self.checkout.keys.claimed(owner, action.id):
                if args.get("cart") is not None and fingerprint(self.carts.lines(owner)) != args["cart"]:
                    raise ConflictError("The cart changed after this order was proposed; nothing was bought.")
                quote = self.checkout.quote(owner, lines, **_where(args))
                if quote["total"] != action.amount:
                    raise ConflictError(
                        f"The total is now {money(quote['total'], action.currency)}, not the "
                        f"{money(action.amount, action.currency)} confirmed; nothing was bought."
                    )
            order = self.checkout.place_order(owner, lines, idempotency_key=action.id, **_where(args))
            if args.get("cart") is not None and fingerprint(self.carts.lines(owner)) == args["cart"]:
                self.carts.clear(owner)  # bought (unless filled again since a first attempt failed)
            return order
        order = self.orders.get(owner, action.target)
        made = self.orders.made_by(owner, action.target, action.id)  # a retry after the change was made
        if order["status"] != args["status"] and not made:
            raise ConflictError(f"Order {action.target} is now {order['status']}; nothing was changed.")
        if action.kind == "cancel_order":
            return self.orders.cancel(owner, action.target, args["reason"], request_key=action.id)
        if action.kind == "return_items":
            return self.orders.return_items(
                owner, action.target, list(args["items"]), args["reason"], request_key=action.id
            )
        if action.kind in ("modify_items", "exchange_items"):
            change = self.orders.modify_items if action.kind == "modify_items" else self.orders.exchange_items
            return change(
                owner,
                action.target,
                [(int(seq), str(variant)) for seq, variant in args["items"]],
                args["payment_method_id"],
                if_version=args["version"],
                if_difference=int(args["difference"]),
                idempotency_key=action.id,
            )
        if action.kind == "change_address":
            return self.orders.change_address(
                owner,
                action.target,
                Address(**args["address"]),
                if_version=args["version"],
                request_key=action.id,
            )
        raise UserError(f"Unknown action kind {action.kind!r}.")

    def _release(self, owner: Owner, action: PendingAction, why: str) -> None:
        """An item change retried after its price difference got no answer, refused now: the charge the
        first attempt may have made is refunded (``OrderBook.release_unanswered_charge``). A provider still
        not answering raises, and the action stays confirmed, to be retried."""
        if action.kind not in ("modify_items", "exchange_items"):
            return  # a checkout's retry finishes under its key (above); cancels and returns charge nothing
        args = action.arguments
        self.orders.release_unanswered_charge(
            owner,
            action.target,
            "modify" if action.kind == "modify_items" else "exchange",
            args["version"],
            action.id,
            int(args["difference"]),
            args["payment_method_id"],
            why,
        )

    def _finish(self, owner: Owner, action_id: str, status: str, result: dict[str, Any]) -> bool:
        """Record how a confirmed action ended, and retire its sweeper job; False if another attempt
        recorded it first (the first record stands)."""
        with self.db.transaction(lock=_lock(owner, action_id)) as db:
            if _row(db, owner, action_id)["status"] != "confirmed":
                return False
            _set(db, owner, action_id, status, result)
            self.jobs.cancel(db, SETTLE_ACTION, _job_key(owner, action_id))
        return True


def settle_after(lease_s: float) -> float:
    """How long after a confirmation its sweeper job is due: once the checkout's lease (``lease_s``) would
    have ended, with a margin, so it finds a live request done and only a dead one's work left."""
    return lease_s + min(5.0, lease_s)


def _lock(owner: Owner, action_id: str) -> str:
    return f"action:{owner.account}:{owner.user}:{action_id}"


def _job_key(owner: Owner, action_id: str) -> str:
    return f"{owner.account}:{owner.user}:{action_id}"


def _where(args: dict[str, Any]) -> dict[str, Any]:
    """A proposed checkout's address and payment method, as ``Checkout`` takes them: saved ones by id, or
    the ones given for the order (kept in the action, never saved)."""
    given_address, given_method = args.get("address"), args.get("payment_method")
    return {
        "address_id": args["address_id"],
        "payment_method_id": args["payment_method_id"],
        "address": Address(**given_address) if given_address else None,
        "method": PaymentMethod(**given_method) if given_method else None,
    }


def _shown(arguments: dict[str, Any]) -> dict[str, Any]:
    """An action's arguments as clients see them: a payment method given for the order without its token."""
    method = arguments.get("payment_method")
    if not isinstance(method, dict):
        return arguments
    return arguments | {"payment_method": {k: v for k, v in method.items() if k != "token"}}


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _digest(kind: str, target: str, amount: int, arguments: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([kind, target, amount, arguments], sort_keys=True).encode()).hexdigest()


def _check_token(row: Any, token: str) -> None:
    if not hmac.compare_digest(row["secret_sha256"], _sha(token or "")):
        raise UserError("That confirmation token is not this action's.")


def _row(db: Any, owner: Owner, action_id: str) -> Any:
    row = (
        db.execute(
            sql("SELECT * FROM pending_actions WHERE account = :account AND user_id = :user AND id = :id"),
            owner.params(id=action_id),
        )
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownActionError(f"No pending action '{action_id}' for user '{owner.user}'.")
    return row


def _set(db: Any, owner: Owner, action_id: str, status: str, result: dict[str, Any] | None) -> None:
    db.execute(
        sql(
            "UPDATE pending_actions SET status = :status, result = :result, decided_at = :now "
            "WHERE account = :account AND user_id = :user AND id = :id"
        ),
        owner.params(
            id=action_id,
            status=status,
            result=None if result is None else json.dumps(result),
            now=time.time(),
        ),
    )


def _action(row: Any) -> PendingAction:
    arguments = json.loads(row["arguments"])
    currency = arguments.pop("currency", "")
    return PendingAction(
        row["id"],
        row["kind"],
        row["target"],
        int(row["amount"]),
        currency,
        arguments,
        row["summary"],
        row["status"],
        json.loads(row["result"]) if row["result"] else None,
        row["created_at"],
        row["expires_at"],
        _assistant_note(arguments),
    )


def _line(text: object) -> str:
    """A value for a summary line: on one line, in reading order (control characters, line separators and
    direction overrides become a space). Store records come from imported files: they are data too."""
    return _NOT_ON_A_LINE.sub(" ", str(text))


def _check_written_address(address: Address) -> None:
    """An address the model wrote is stored as written if the person confirms it, so it must be what the
    summary shows: no control characters or line breaks to hide part of it, and no field past a length."""
    for name in ("name", "line1", "line2", "city", "state", "zip", "country"):
        value = getattr(address, name)
        if _NOT_ON_A_LINE.search(value):
            raise UserError(f"The address's {name} has a control character or a line break in it.")
        if len(value) > ADDRESS_FIELD_CHARS:
            raise UserError(f"The address's {name} is over {ADDRESS_FIELD_CHARS} characters.")


def _assistant_note(arguments: dict[str, Any]) -> str:
    """What the model wrote about the action (the reason it gave), on one line and cut to NOTE_CHARS."""
    note = _line(arguments.get("reason") or "").strip()
    return note if len(note) <= NOTE_CHARS else note[: NOTE_CHARS - 1] + "…"


def _options(options: dict[str, str]) -> str:
    if not options:
        return ""
    return f" ({', '.join(f'{_line(k)} {_line(v)}' for k, v in options.items())})"


def _method(method: dict[str, Any]) -> str:
    kind = {"gift_card": "gift card", "paypal": "PayPal"}.get(method["kind"], "card")
    return f"{kind} {_line(method['id'])}"


def _items(order: OrderView) -> str:
    return ", ".join(f"{i['quantity']} × {_line(i['name'])}" for i in order["items"])


def _swaps_text(quote: dict[str, Any]) -> str:
    currency = quote["currency"]

    def item(side: dict[str, Any]) -> str:
        return f"{_line(side['name'])}{_options(side['options'])} at {money(side['price'], currency)}"

    return "; ".join(
        f"item {line['seq']}, {line['quantity']} × {item(line['old'])} → {item(line['new'])}"
        for line in quote["lines"]
    )


def _difference_text(quote: dict[str, Any]) -> str:
    difference, currency, method = quote["difference"], quote["currency"], _method(quote["method"])
    if difference > 0:
        return f"The price difference, {money(difference, currency)}, is charged to {method}."
    if difference < 0:
        return f"The price difference, {money(-difference, currency)}, goes back to {method}."
    return "The prices are the same: no money moves."


def _place(address: dict[str, Any] | None) -> str:
    if not address:
        return "no address"
    keys = ("name", "line1", "line2", "city", "state", "zip", "country")
    return ", ".join(_line(x) for x in (address.get(k) for k in keys) if x)
