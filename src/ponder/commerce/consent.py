"""What a buyer consents to: marketing, analytics, preferences, and the sale or sharing of their data
(UCP's buyer-consent purposes), as the store last heard it, with who said it and when.

Every statement is kept (``buyer_consents``, one row per purpose and statement); a buyer's consent now is
the latest statement of each purpose. Who may say what:

- **Withdrawing** (``False``) is taken from anyone who speaks for the buyer, at once: saying no on
  someone's behalf harms nobody.
- **Granting** (``True``) is taken only with the person's own confirmation: an agent's checkout carries
  the buyer's choices into the order the person confirms (their confirmation shows them), and they are
  recorded when it is placed. An agent alone cannot sign a stranger up for marketing.

Not here: how a protocol spells purposes (commerce/ucp/).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final

from sqlalchemy.engine import Connection

from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["PURPOSES", "ConsentLedger", "consent_text", "record_consent"]

PURPOSES: Final = ("marketing", "analytics", "preferences", "sale_of_data")


def record_consent(
    db: Connection, owner: Owner, consent: Mapping[str, bool], source: str, reference: str = ""
) -> None:
    """Keep ``consent`` (purpose -> granted) as said by ``source`` (``platform`` for an agent's withdrawal,
    ``buyer`` for what the person confirmed), with ``reference`` (the checkout or action it came with)."""
    rows = [
        owner.params(purpose=p, granted=bool(g), source=source, reference=reference, at=time.time())
        for p, g in consent.items()
        if p in PURPOSES
    ]
    if rows:
        db.execute(
            sql(
                "INSERT INTO buyer_consents (account, user_id, purpose, granted, source, reference, at) "
                "VALUES (:account, :user, :purpose, :granted, :source, :reference, :at)"
            ),
            rows,
        )


def consent_text(consent: Mapping[str, bool]) -> str:
    """The choices in words, for what the person confirms ("" when there are none)."""
    said = [f"{p.replace('_', ' ')} {'yes' if g else 'no'}" for p, g in consent.items() if p in PURPOSES]
    return f" Consent: {', '.join(said)}." if said else ""


class ConsentLedger:
    def __init__(self, db: Database) -> None:
        self.db = db

    def withdraw(self, owner: Owner, consent: Mapping[str, bool], source: str, reference: str = "") -> None:
        """Record the withdrawals in ``consent`` (its ``False`` purposes) at once."""
        refused = {p: False for p, g in consent.items() if not g}
        if refused:
            with self.db.transaction() as db:
                record_consent(db, owner, refused, source, reference)

    def current(self, owner: Owner) -> dict[str, bool]:
        """Each purpose's latest statement for ``owner`` (a purpose never spoken of is absent)."""
        with self.db.reading() as db:
            rows = db.execute(
                sql(
                    "SELECT purpose, granted FROM buyer_consents "
                    "WHERE account = :account AND user_id = :user ORDER BY at, id"
                ),
                owner.params(),
            ).all()
        return {str(purpose): bool(granted) for purpose, granted in rows}
