"""Confirming an action from inside a thread: a checkout, cancel, return... proposed in a turn is shown with
two reply buttons, Confirm and Cancel, and only the person's press carries it out.

A button's payload is a **handle** (``ok:H`` or ``no:H``, 16 random bytes, fitting Telegram's 64-byte
callback data): the confirmation token stays in this database (``channel_buttons``), so neither the model
(the turn never sees the buttons) nor the platform holds it. A press is a platform-signed ``choice`` from a
thread; it counts only from the thread the action was proposed in, and only for that action's owner.
Pressing twice confirms once: the second press finds the action done (``ActionDesk.confirm`` is
idempotent on the token) and says so. Typing a handle as text does nothing: only a button press is read
here.

A proposal held for a customer's own surfaces (the thread identified as an existing customer,
commerce/identification.py) gets no buttons: the thread is not that customer's own channel.

Not here: the action itself (commerce/actions.py), sending (outbox.py).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ponder.channels.base import Choice
from ponder.errors import ConflictError, NotFoundError, PonderError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

if TYPE_CHECKING:
    from ponder.commerce.shop import Shop
    from ponder.commerce.tools import Proposal

__all__ = ["CONFIRM", "DECLINE", "ConfirmButtons", "Pressed"]

CONFIRM: Final = "ok:"
DECLINE: Final = "no:"


@dataclass(frozen=True)
class Pressed:
    """What a press did, to tell the person."""

    text: str
    done: bool  # the action was carried out (or declined) by this press


class ConfirmButtons:
    def __init__(self, db: Database) -> None:
        self.db = db

    def mint(self, channel: str, thread: str, proposal: Proposal) -> tuple[Choice, ...]:
        """The Confirm and Cancel buttons of a proposal (none for a held one)."""
        if proposal.held:
            return ()
        handle = secrets.token_urlsafe(16)
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "INSERT INTO channel_buttons (channel, handle, thread, account, user_id, action_id, "
                    "token, at) VALUES (:c, :h, :thread, :account, :user, :action, :token, :now)"
                ),
                {
                    "c": channel,
                    "h": handle,
                    "thread": thread,
                    "account": proposal.owner.account,
                    "user": proposal.owner.user,
                    "action": proposal.action.id,
                    "token": proposal.token,
                    "now": time.time(),
                },
            )
        return (Choice("Confirm", CONFIRM + handle), Choice("Cancel", DECLINE + handle))

    def press(self, shop: Shop, channel: str, thread: str, presser: Owner, payload: str) -> Pressed | None:
        """Carry out the press of a Confirm or Cancel button by ``presser`` (the sender, as a user of the
        store) in ``thread``; None if the payload is not one of these buttons."""
        if not payload.startswith((CONFIRM, DECLINE)):
            return None
        with self.db.reading() as db:
            row = (
                db.execute(
                    sql("SELECT * FROM channel_buttons WHERE channel = :c AND handle = :h"),
                    {"c": channel, "h": payload[len(CONFIRM) :]},
                )
                .mappings()
                .first()
            )
        if row is None or row["thread"] != thread:  # another thread's button: not this person's action
            return Pressed("That button is not for this conversation; nothing was done.", done=False)
        if (row["account"], row["user_id"]) != (presser.account, presser.user):  # a group's other member
            return Pressed("Only the person who asked for it can confirm that; nothing was done.", done=False)
        owner, action_id, token = Owner(row["account"], row["user_id"]), row["action_id"], row["token"]
        try:
            if payload.startswith(DECLINE):
                shop.actions.decline(owner, action_id, token)
                return Pressed("Cancelled: nothing was done.", done=True)
            action = shop.actions.confirm(owner, action_id, token)
        except ConflictError as err:
            return Pressed(_already(shop, owner, action_id) or str(err), done=False)
        except NotFoundError:
            return Pressed("That action is gone; nothing was done.", done=False)
        except PonderError as err:
            return Pressed(f"It could not be done: {err}", done=False)
        return Pressed(_result_text(action.status, action.summary), done=True)


def _already(shop: Shop, owner: Owner, action_id: str) -> str | None:
    try:
        action = shop.actions.get(owner, action_id)
    except PonderError:
        return None
    if action.status == "done":
        return "Already done: it was confirmed before."
    if action.status == "declined":
        return "That was cancelled before; nothing was done."
    if action.status == "expired":
        return "That offer expired; ask again."
    return None


def _result_text(status: str, summary: str) -> str:
    if status == "done":
        return f"Done. {summary}"
    if status == "failed":
        return f"It could not be done. {summary}"
    return f"Confirmed; it is being processed. {summary}"
