"""Which of a store's customers is writing in: identification on a support surface (a chat whose person is
not signed in as a customer, a messaging thread), as tau2-bench's retail agents do it.

The person gives their email, or their first and last name and zip code, as the store's rules allow
(``IdentifyBy``). Exactly one customer must match: an email ignoring case; a name ignoring case and spaces,
with the zip of one of that customer's saved addresses. Then the conversation (its session) is that
customer's from this turn on (``identified``), and the shopping tools act for them.

What it guards:

- **Nothing is revealed until it succeeds.** Every failure says the same ("no customer matches"), whether
  the email exists or not, the name matched with another zip, or several customers matched.
- **Guessing is limited.** Failures count per session and per person writing in (the surface's own user,
  a visitor or a phone number) over ``window_s``; past ``max_failures`` of either, identification is
  refused with a ``RateLimitedError`` saying when to try again, even with the right details.
- **It authorises nothing.** Knowing a customer's email lets a session read their orders (payment methods
  shown only as brand and last digits), not act for them: every action proposed for an identified
  customer is held for the person's own surfaces (agent_actions.py), never confirmed in the session.

Not here: the rules a store sets (store rules), the tools that use this (commerce/tools/).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from ponder.commerce.model import IdentifyBy
from ponder.errors import RateLimitedError, UserError
from ponder.store.database import Database, sql

__all__ = ["IDENTIFY_BY", "Identification", "IdentificationFailed", "Identified", "IdentifyBy"]

IDENTIFY_BY: tuple[IdentifyBy, ...] = ("email", "name_zip")
FAILED = "No customer matches those details. Check them and try again."


class IdentificationFailed(UserError):
    """No single customer matches: the same words for every reason."""


@dataclass(frozen=True)
class Identified:
    user_id: str
    method: IdentifyBy


class Identification:
    """Identifies customers for conversations of one database's stores, with its failures counted."""

    def __init__(
        self,
        db: Database,
        *,
        max_failures: int = 5,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock

    def identified(self, account: str, writer: str, session_id: str) -> str | None:
        """The customer ``writer``'s session identified as, if it did (a session is its writer's: the same
        id of another writer's is another session)."""
        with self.db.reading() as db:
            found = db.execute(
                sql(
                    "SELECT customer_id FROM session_customers WHERE account = :account "
                    "AND user_id = :writer AND session_id = :session"
                ),
                {"account": account, "writer": writer, "session": session_id},
            ).scalar()
        return None if found is None else str(found)

    def identify(
        self,
        account: str,
        session_id: str,
        writer: str,
        *,
        email: str = "",
        first_name: str = "",
        last_name: str = "",
        zip: str = "",
        allowed: Sequence[IdentifyBy] = IDENTIFY_BY,
    ) -> Identified:
        """The one customer of ``account`` the details name, bound to ``session_id`` from now on; ``writer``
        is whoever writes in the session (the surface's own user). ``IdentificationFailed`` when none or
        several match, ``RateLimitedError`` past the failures allowed, ``UserError`` for details the store
        does not identify by."""
        method = _method(email, first_name, last_name, zip, allowed)
        subjects = (f"session:{writer}:{session_id}", f"writer:{writer}")
        now = self.clock()
        with self.db.transaction(lock=f"identify:{account}:{writer}") as db:
            for subject in subjects:
                failures = db.execute(
                    sql(
                        "SELECT COUNT(*), MIN(at) FROM identification_failures "
                        "WHERE account = :account AND subject = :subject AND at > :since"
                    ),
                    {"account": account, "subject": subject, "since": now - self.window_s},
                ).one()
                if int(failures[0]) >= self.max_failures:
                    wait = max(1.0, float(failures[1]) + self.window_s - now)
                    raise RateLimitedError(
                        f"Too many tries to identify a customer; try again in {int(wait) + 1} s.",
                        retry_after=wait,
                    )
            users = _matching(db, account, method, email, first_name, last_name, zip)
            if len(users) != 1:
                for subject in subjects:
                    db.execute(
                        sql(
                            "INSERT INTO identification_failures (account, subject, at) "
                            "VALUES (:account, :subject, :at)"
                        ),
                        {"account": account, "subject": subject, "at": now},
                    )
            else:
                db.execute(
                    sql(
                        "INSERT INTO session_customers "
                        "(account, user_id, session_id, customer_id, method, at) "
                        "VALUES (:account, :writer, :session, :customer, :method, :at) "
                        "ON CONFLICT (account, user_id, session_id) DO UPDATE SET "
                        "customer_id = excluded.customer_id, method = excluded.method, at = excluded.at"
                    ),
                    {
                        "account": account,
                        "writer": writer,
                        "session": session_id,
                        "customer": users[0],
                        "method": method,
                        "at": now,
                    },
                )
        if len(users) != 1:  # the failure is committed above, so it counts
            raise IdentificationFailed(FAILED)
        return Identified(users[0], method)


def _method(email: str, first: str, last: str, zip_code: str, allowed: Sequence[IdentifyBy]) -> IdentifyBy:
    ways = " or ".join(
        "an email" if a == "email" else "a first and last name with a zip code" for a in allowed
    )
    if email.strip() and "email" in allowed:
        return "email"
    if first.strip() and last.strip() and zip_code.strip() and "name_zip" in allowed:
        return "name_zip"
    raise UserError(f"To find a customer, this store needs {ways}.")


def _matching(
    db: Connection, account: str, method: IdentifyBy, email: str, first: str, last: str, zip_code: str
) -> list[str]:
    """The customers the details name (one, for an identification to succeed)."""
    if method == "email":
        rows = db.execute(
            sql(
                "SELECT user_id FROM users WHERE account = :account AND LOWER(email) = :email AND email <> ''"
            ),
            {"account": account, "email": email.strip().lower()},
        ).scalars()
        return [str(r) for r in rows]
    name = _name(f"{first} {last}")
    named = db.execute(
        sql(
            "SELECT u.user_id, u.name, a.data FROM users u JOIN addresses a "
            "ON a.account = u.account AND a.user_id = u.user_id WHERE u.account = :account AND u.name <> ''"
        ),
        {"account": account},
    ).all()
    wanted_zip = zip_code.strip().upper()
    found = {
        str(user)
        for user, full, data in named
        if _name(str(full)) == name and str(json.loads(data).get("zip", "")).strip().upper() == wanted_zip
    }
    return sorted(found)


def _name(text: str) -> str:
    return " ".join(re.findall(r"[^\W\d_]+(?:['-][^\W\d_]+)*", text.casefold()))
