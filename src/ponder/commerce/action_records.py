"""A pending action as stored: the ``PendingAction`` value, its kinds and statuses, and the few reads and
writes of its ``pending_actions`` row that proposing, deciding and carrying out share.

A row holds one user's action on exactly one thing (``target``: an order id, or "" for a new order), the
amount of money it moves, its arguments as JSON (the currency with them), the summary the person read,
the SHA-256 of its confirmation token (never the token), its status and, once it ended, its result.
``to_action`` reads the row back as the ``PendingAction`` clients and tools see.

Not here: proposing, the token check and deciding (actions.py), the summary's text (action_summaries.py),
and carrying a confirmed action out (action_runs.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal, get_args

from ponder.commerce.action_summaries import assistant_note
from ponder.errors import NotFoundError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = [
    "ACTION_KINDS",
    "SETTLE_ACTION",
    "ActionKind",
    "ActionStatus",
    "PendingAction",
    "UnknownActionError",
    "job_key",
    "lock_name",
    "read_action",
    "read_row",
    "set_status",
    "to_action",
]

ActionKind = Literal[
    "place_order",
    "cancel_order",
    "return_items",
    "modify_items",
    "exchange_items",
    "change_address",
    "change_payment",
]
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)
ActionStatus = Literal["pending", "confirmed", "done", "declined", "expired", "failed"]
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
        """The action as plain data (its token never in it); the API adds its wire label."""
        return {
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


def lock_name(owner: Owner, action_id: str) -> str:
    return f"action:{owner.account}:{owner.user}:{action_id}"


def job_key(owner: Owner, action_id: str) -> str:
    return f"{owner.account}:{owner.user}:{action_id}"


def _shown(arguments: dict[str, Any]) -> dict[str, Any]:
    """An action's arguments as clients see them: a payment method given for the order without its token."""
    method = arguments.get("payment_method")
    if not isinstance(method, dict):
        return arguments
    return arguments | {"payment_method": {k: v for k, v in method.items() if k != "token"}}


def read_action(db: Database, owner: Owner, action_id: str) -> PendingAction:
    """The user's action ``action_id`` as it stands (its own read); ``UnknownActionError`` if none."""
    with db.reading() as connection:
        return to_action(read_row(connection, owner, action_id))


def read_row(db: Any, owner: Owner, action_id: str) -> Any:
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


def set_status(db: Any, owner: Owner, action_id: str, status: str, result: dict[str, Any] | None) -> None:
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


def to_action(row: Any) -> PendingAction:
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
        assistant_note(arguments),
    )
