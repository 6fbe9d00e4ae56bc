"""The people of an account: created on first use, listed, and forgotten completely on request.

``forget`` deletes every row about the person (sessions and their messages, memories, interest events, the
user itself) in one transaction: after it, nothing about them is left in the database to read back.
"""

from __future__ import annotations

import time

from ponder.errors import NotFoundError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["KEPT_TABLES", "PERSONAL_TABLES", "UnknownUserError", "UserStore"]

# Every table that holds a person's rows, children before parents (messages before sessions). A customer's
# orders are the store's accounting record and stay, without their delivery address (``forget``).
PERSONAL_TABLES = (
    "channel_buttons",  # a messaging thread's confirm buttons (their tokens), before pending_actions
    "channel_threads",  # after its inbox and outbox rows (``forget``: they have no user_id of their own)
    "messages",
    "responses",  # the Responses API's stored responses: the user's input and the turn's output
    "sessions",
    "memories",
    "interest_events",
    "addresses",
    "payment_methods",
    "cart_items",
    "idempotency_keys",
    "held_proposals",  # before pending_actions: the tokens of its actions
    "pending_actions",
    "session_customers",
    "support_tickets",
    "ucp_checkout_sessions",
    "buyer_consents",  # what they consented to: gone with them (nothing is left to market to)
    "users",
)
# A messaging thread's inbox and outbox, found through the thread's row (channel_threads) before it goes.
_THREAD_TABLES = ("channel_inbox", "channel_outbox")
# Tables with a user_id that ``forget`` keeps, scrubbed: a customer's orders are the store's books.
KEPT_TABLES = ("orders",)


class UnknownUserError(NotFoundError):
    """Nothing is stored about this user in this account."""


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure(self, owner: Owner) -> None:
        """Record the user if this is their first time; nothing if they exist."""
        if self.exists(owner):  # every turn asks: a read, which does not wait for the database's writer
            return
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "INSERT INTO users (account, user_id, created_at) VALUES (:account, :user, :at) "
                    "ON CONFLICT (account, user_id) DO NOTHING"
                ),
                owner.params(at=time.time()),
            )

    def exists(self, owner: Owner) -> bool:
        with self.db.reading() as db:
            row = db.execute(
                sql("SELECT 1 FROM users WHERE account = :account AND user_id = :user"),
                owner.params(),
            ).first()
        return row is not None

    def require(self, owner: Owner) -> None:
        """Raise UnknownUserError, naming the account, unless the user exists."""
        if not self.exists(owner):
            raise UnknownUserError(
                f"No user '{owner.user}' in account '{owner.account}': nothing is stored about them "
                "(users appear with their first turn, event or memory)."
            )

    def list_users(self, account: str) -> list[str]:
        with self.db.reading() as db:
            rows = db.execute(
                sql("SELECT user_id FROM users WHERE account = :account ORDER BY user_id"),
                {"account": account},
            )
            return [str(user) for user in rows.scalars()]

    def forget(self, owner: Owner) -> dict[str, int]:
        """Delete everything stored about the user; how many rows went, per table."""
        deleted: dict[str, int] = {}
        with self.db.transaction(lock=f"user:{owner.account}:{owner.user}") as db:
            for table in _THREAD_TABLES:  # what their messaging threads said and were sent
                result = db.execute(
                    sql(
                        f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM channel_threads t "
                        f"WHERE t.account = :account AND t.user_id = :user AND t.channel = {table}.channel "
                        f"AND t.thread = {table}.thread)"
                    ),
                    owner.params(),
                )
                deleted[table] = result.rowcount
            for table in PERSONAL_TABLES:
                result = db.execute(
                    sql(f"DELETE FROM {table} WHERE account = :account AND user_id = :user"),
                    owner.params(),
                )
                deleted[table] = result.rowcount
            result = db.execute(
                sql("UPDATE orders SET address = 'null' WHERE account = :account AND user_id = :user"),
                owner.params(),
            )
            deleted["order addresses"] = result.rowcount
        self.db.purge()
        return deleted
