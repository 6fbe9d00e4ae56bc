"""Hand-off to a person: a queue of support tickets, each with a summary of the conversation so far.

The shopping mode opens a ticket when the customer asks for a person or the request is beyond what it may
do (``hand_off_to_person``); the person taking over reads the summary (``ponder support list``) instead of
the whole conversation. Tickets belong to the account's store and name the customer; ``forget-me`` deletes
a customer's tickets with the rest of their data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ponder.errors import NotFoundError, UserError
from ponder.memory.owner import Owner
from ponder.memory.users import UserStore
from ponder.store.database import Database, sql

__all__ = ["SupportQueue", "Ticket"]

MAX_SUMMARY = 4000


@dataclass(frozen=True)
class Ticket:
    id: int
    user: str
    status: str  # open, closed
    reason: str
    summary: str
    session_id: str | None
    created_at: float
    closed_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class SupportQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open_ticket(self, owner: Owner, reason: str, summary: str, session_id: str | None = None) -> Ticket:
        reason, summary = " ".join(reason.split())[:200], summary.strip()[:MAX_SUMMARY]
        if not reason:
            raise UserError("A hand-off needs a reason.")
        UserStore(self.db).ensure(owner)
        now = time.time()
        with self.db.transaction() as db:
            ticket_id = db.execute(
                sql(
                    "INSERT INTO support_tickets (account, user_id, status, reason, summary, session_id, "
                    "created_at) VALUES (:account, :user, 'open', :reason, :summary, :session, :now) "
                    "RETURNING id"
                ),
                owner.params(reason=reason, summary=summary, session=session_id, now=now),
            ).scalar_one()
        return Ticket(int(ticket_id), owner.user, "open", reason, summary, session_id, now, None)

    def list_tickets(self, account: str, *, status: str | None = "open") -> list[Ticket]:
        with self.db.reading() as db:
            rows = db.execute(
                sql(
                    "SELECT * FROM support_tickets WHERE account = :account "
                    + ("AND status = :status " if status else "")
                    + "ORDER BY created_at, id"
                ),
                {"account": account, "status": status},
            ).mappings()
            return [_ticket(r) for r in rows]

    def get(self, account: str, ticket_id: int) -> Ticket:
        with self.db.reading() as db:
            row = (
                db.execute(
                    sql("SELECT * FROM support_tickets WHERE account = :account AND id = :id"),
                    {"account": account, "id": ticket_id},
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"No support ticket {ticket_id}.")
        return _ticket(row)

    def close(self, account: str, ticket_id: int) -> Ticket:
        with self.db.transaction() as db:
            closed = (
                db.execute(
                    sql(
                        "UPDATE support_tickets SET status = 'closed', closed_at = :now "
                        "WHERE account = :account AND id = :id RETURNING *"
                    ),
                    {"account": account, "id": ticket_id, "now": time.time()},
                )
                .mappings()
                .first()
            )
        if closed is None:
            raise NotFoundError(f"No support ticket {ticket_id}.")
        return _ticket(closed)


def _ticket(row: Any) -> Ticket:
    return Ticket(
        int(row["id"]),
        row["user_id"],
        row["status"],
        row["reason"],
        row["summary"],
        row["session_id"],
        row["created_at"],
        row["closed_at"],
    )
