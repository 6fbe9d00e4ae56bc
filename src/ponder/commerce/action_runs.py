"""Carrying out a confirmed pending action, and the sweeper that finishes one whose confirmation died.

A confirmed action ends ``done`` or ``failed`` only on a final answer: a checkout still in flight (a
``ConflictError`` with ``retry_after``) or a provider that did not answer leaves it ``confirmed``, and the
same confirmation sent again carries it on (a done one is "already done"). Checkout runs with the action's
id as its idempotency key, so a confirm retried after a crash finishes the one order instead of placing
another; a change of items is charged under a key derived from the order's version and the change, and
every order change records the action that made it (orders.py), so its retry finds the change made instead
of refusing an order that "moved on". A retried item change refused now has the charge its first attempt
may have made refunded (``_release``).

Confirming enqueues, in the same transaction, a sweeper job (``SETTLE_ACTION``, store/jobs.py) due
``settle_after`` the checkout's lease: if the person's client never comes back, ``ActionRunner.settle``
finishes the action as a retry would, so a charge whose order was never written is completed or refunded
by itself. ``crashpoints.py`` names the steps the tests and bench/crash.py crash at.

Not here: proposing, the token check and marking an action confirmed (actions.py, ``ActionDesk``), and the
order changes themselves (orders.py, checkout.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ponder.commerce.action_records import (
    SETTLE_ACTION,
    PendingAction,
    job_key,
    lock_name,
    read_action,
    read_row,
    set_status,
    to_action,
)
from ponder.commerce.carts import CartStore, fingerprint
from ponder.commerce.checkout import Checkout, LineItem
from ponder.commerce.consent import record_consent
from ponder.commerce.crashpoints import crash_point
from ponder.commerce.model import Address, PaymentMethod
from ponder.commerce.order_records import OrderView
from ponder.commerce.orders import OrderBook, money
from ponder.errors import ConflictError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database
from ponder.store.jobs import JobQueue

log = logging.getLogger(__name__)

__all__ = ["ActionRunner", "settle_after"]


class ActionRunner:
    """Carries confirmed actions out and records how each ended (``ActionDesk.confirm`` and the sweeper)."""

    def __init__(
        self,
        db: Database,
        checkout: Checkout,
        orders: OrderBook,
        carts: CartStore,
        jobs: JobQueue,
        on_done: Callable[[Owner, PendingAction, OrderView], None] | None = None,
    ) -> None:
        self.db = db
        self.checkout = checkout
        self.orders = orders
        self.carts = carts
        self.jobs = jobs
        self.on_done = on_done  # told of every action carried out (Shop records interest signals)

    def get(self, owner: Owner, action_id: str) -> PendingAction:
        return read_action(self.db, owner, action_id)

    def settle(self, owner: Owner, action_id: str) -> PendingAction:
        """The sweeper's work (``SETTLE_ACTION`` jobs): an action confirmed but never finished (its request
        died after the person confirmed) is carried on as a repeated confirmation would, without the token
        the person already gave: its checkout finished under its key, or the charge refunded if the order
        cannot be written; its order change found made, or made. Raises what a retry may fix (the job is
        retried); returns the action as it ends otherwise."""
        with self.db.reading() as db:
            row = read_row(db, owner, action_id)
        if row["status"] != "confirmed":
            return to_action(row)
        try:
            return self.run(owner, row)
        except ConflictError as error:
            if error.retry_after is not None:
                raise
        except UserError:
            pass  # a final failure, recorded
        return self.get(owner, action_id)

    def run(self, owner: Owner, row: Any) -> PendingAction:
        """Carry out a confirmed action (``row``: as read when it was confirmed, or by the sweeper) and
        record how it ended: done (``on_done`` told), or failed on a final answer, which is raised; a
        ``ConflictError`` with ``retry_after`` leaves it confirmed."""
        action = to_action(row)
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
            order = self.checkout.place_order(
                owner, lines, idempotency_key=action.id, watchers=args.get("watchers", ()), **_where(args)
            )
            if args.get("consent"):  # the person confirmed an order showing these choices
                with self.checkout.db.transaction() as db:
                    record_consent(db, owner, args["consent"], "buyer", action.id)
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
                owner,
                action.target,
                list(args["items"]),
                args["reason"],
                method_id=args.get("method_id"),
                request_key=action.id,
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
        if action.kind == "change_payment":
            return self.orders.change_payment(
                owner,
                action.target,
                args["payment_method_id"],
                if_version=args["version"],
                request_key=action.id,
            )
        raise UserError(f"Unknown action kind {action.kind!r}.")

    def _release(self, owner: Owner, action: PendingAction, why: str) -> None:
        """An item or payment change retried after its charge got no answer, refused now: the charge the
        first attempt may have made is refunded (``release_unanswered_charge`` of the order book's item
        changes, or of its payment changes). A provider still not answering raises, and the action stays
        confirmed, to be retried."""
        args = action.arguments
        if action.kind == "change_payment":
            self.orders.payments.release_unanswered_charge(
                owner,
                action.target,
                args["version"],
                action.id,
                action.amount,
                args["payment_method_id"],
                why,
            )
            return
        if action.kind not in ("modify_items", "exchange_items"):
            return  # a checkout's retry finishes under its key (above); cancels and returns charge nothing
        self.orders.changes.release_unanswered_charge(
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
        with self.db.transaction(lock=lock_name(owner, action_id)) as db:
            if read_row(db, owner, action_id)["status"] != "confirmed":
                return False
            set_status(db, owner, action_id, status, result)
            self.jobs.cancel(db, SETTLE_ACTION, job_key(owner, action_id))
        return True


def settle_after(lease_s: float) -> float:
    """How long after a confirmation its sweeper job is due: once the checkout's lease (``lease_s``) would
    have ended, with a margin, so it finds a live request done and only a dead one's work left."""
    return lease_s + min(5.0, lease_s)


def _where(args: dict[str, Any]) -> dict[str, Any]:
    """A proposed checkout's address and payment method, as ``Checkout`` takes them: saved ones by id, or
    the ones given for the order (kept in the action, never saved)."""
    given_address, given_method = args.get("address"), args.get("payment_method")
    return {
        "address_id": args["address_id"],
        "payment_method_id": args["payment_method_id"],
        "address": Address(**given_address) if given_address else None,
        "method": PaymentMethod(**given_method) if given_method else None,
        "codes": tuple(args.get("codes", ())),
        "shipping_option": args.get("shipping_option"),
    }
