"""UCP checkout sessions as stored: the ``Session`` a request works on, and its table
(``ucp_checkout_sessions``), written only by whoever read the latest version.

Not here: what a session's status may become (checkouts.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from ponder.commerce.ucp.errors import CheckoutConflict, CheckoutNotFound
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["Session", "SessionStore", "new_state"]


@dataclass
class Session:
    """A checkout session as read: ``state`` is what the platform asked for and what came of it."""

    account: str
    id: str
    user: str  # "" until the buyer's email is known
    status: str
    state: dict[str, Any]
    body: dict[str, Any]  # the checkout as last answered (the answer itself while FROZEN)
    version: int
    expires_at: float

    @property
    def owner(self) -> Owner | None:
        return Owner(self.account, self.user) if self.user else None

    def customer(self) -> Owner:
        if not self.user:
            raise CheckoutConflict("This checkout has no buyer.")
        return Owner(self.account, self.user)

    def proposer(self, action: dict[str, Any]) -> Owner:
        """Whose pending action ``action`` is (the buyer when it was proposed)."""
        return Owner(self.account, action["user"])

    @property
    def agent_key(self) -> str | None:
        """The id of the agent credential that started this checkout; None if an account key did."""
        agent = self.state.get("agent")
        return str(agent["key"]) if agent else None


class SessionStore:
    """The ``ucp_checkout_sessions`` table: a session is written only by whoever read its latest version."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, session: Session, key: str | None, now: float) -> None:
        """Store a new session (``key``: the platform's idempotency key, if it sent one)."""
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "INSERT INTO ucp_checkout_sessions (account, id, user_id, status, session, state, "
                    "idempotency_key, version, created_at, updated_at, expires_at) VALUES (:account, :id, "
                    ":user, :status, :session, :state, :key, 0, :now, :now, :expires)"
                ),
                {
                    "account": session.account,
                    "id": session.id,
                    "user": session.user,
                    "status": session.status,
                    "session": json.dumps(session.body),
                    "state": json.dumps(session.state),
                    "key": key or "",
                    "now": now,
                    "expires": session.expires_at,
                },
            )

    def of_order(self, account: str, order_id: str) -> str | None:
        """The id of the checkout session that became ``order_id``, if one did."""
        with self.db.reading() as db:
            found = db.execute(
                sql("SELECT id FROM ucp_checkout_sessions WHERE account = :account AND order_id = :order"),
                {"account": account, "order": order_id},
            ).scalar()
        return None if found is None else str(found)

    def read(self, account: str | None, checkout_id: str) -> Session:
        """The session by id, in ``account`` (None: in any account, for the person's page)."""
        where = "id = :id" + (" AND account = :account" if account is not None else "")
        with self.db.reading() as db:
            row = (
                db.execute(
                    sql(f"SELECT * FROM ucp_checkout_sessions WHERE {where}"),
                    {"id": checkout_id, "account": account},
                )
                .mappings()
                .first()
            )
        if row is None:
            raise CheckoutNotFound(checkout_id)
        return Session(
            row["account"],
            row["id"],
            row["user_id"],
            row["status"],
            json.loads(row["state"]),
            json.loads(row["session"]),
            int(row["version"]),
            float(row["expires_at"]),
        )

    def save(self, session: Session, body: dict[str, Any]) -> dict[str, Any]:
        """Write the session if nobody wrote it since it was read; else a ``CheckoutConflict`` to retry."""
        with self.db.transaction(lock=f"ucp:{session.account}:{session.id}") as db:
            written = db.execute(
                sql(
                    "UPDATE ucp_checkout_sessions SET user_id = :user, status = :status, session = :session, "
                    "state = :state, order_id = :order, version = version + 1, updated_at = :now "
                    "WHERE account = :account AND id = :id AND version = :version"
                ),
                {
                    "account": session.account,
                    "id": session.id,
                    "user": session.user,
                    "status": session.status,
                    "session": json.dumps(body),
                    "state": json.dumps(session.state),
                    "order": (session.state.get("order") or {}).get("id", ""),
                    "now": time.time(),
                    "version": session.version,
                },
            ).rowcount
        if not written:
            raise CheckoutConflict("The checkout changed meanwhile; retry.", retry_after=1.0)
        session.version += 1
        session.body = body
        return body


def new_state() -> dict[str, Any]:
    """What a new session holds before the platform's first request is applied."""
    return {
        "lines": [],
        "next_line": 1,
        "buyer": {},
        "destinations": [],
        "selected_destination": None,
        "selected_option": None,
        "codes": [],  # discount codes as the platform sent them
        "notes": [],
        "outcome": None,
        "instrument": None,
        "payment_method_id": None,
        "action": None,
        "order": None,
        "agent": None,  # {key, profile}: the agent credential that started it
    }
