"""A customer's cart: variants and quantities, kept until checkout or until they are removed.

One open cart per customer (``cart_items``, keyed by account, user and variant). Adding checks the variant
exists and is available; the cart itself holds no prices: checkout prices it at the time of the order, and
a pending checkout pins the cart as it was (``fingerprint``), so a cart changed after the person was asked
cannot be bought by that confirmation.
"""

from __future__ import annotations

import hashlib
import time

from ponder.commerce.checkout import MAX_QUANTITY, LineItem
from ponder.errors import NotFoundError, UserError
from ponder.memory.owner import Owner
from ponder.memory.users import UserStore
from ponder.store.database import Database, sql

__all__ = ["CartStore", "fingerprint"]

MAX_LINES = 50


def fingerprint(lines: list[LineItem]) -> str:
    """What a cart holds, as a digest that changes when any line does."""
    text = ";".join(
        f"{line.variant_id}x{line.quantity}" for line in sorted(lines, key=lambda x: x.variant_id)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class CartStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.users = UserStore(db)

    def lines(self, owner: Owner) -> list[LineItem]:
        with self.db.reading() as db:
            rows = db.execute(
                sql(
                    "SELECT variant_id, quantity FROM cart_items "
                    "WHERE account = :account AND user_id = :user "
                    "ORDER BY added_at, variant_id"
                ),
                owner.params(),
            )
            return [LineItem(variant_id, int(quantity)) for variant_id, quantity in rows]

    def set_quantity(self, owner: Owner, variant_id: str, quantity: int) -> list[LineItem]:
        """Put ``quantity`` of the variant in the cart (0 removes it); the cart afterwards."""
        if not 0 <= quantity <= MAX_QUANTITY:
            raise UserError(f"A quantity is between 0 and {MAX_QUANTITY} (got {quantity}).")
        self.users.ensure(owner)
        with self.db.transaction(lock=f"cart:{owner.account}:{owner.user}") as db:
            if quantity == 0:
                db.execute(
                    sql(
                        "DELETE FROM cart_items WHERE account = :account AND user_id = :user "
                        "AND variant_id = :variant"
                    ),
                    owner.params(variant=variant_id),
                )
            else:
                row = (
                    db.execute(
                        sql("SELECT available, stock FROM variants WHERE account = :account AND id = :id"),
                        {"account": owner.account, "id": variant_id},
                    )
                    .mappings()
                    .first()
                )
                if row is None:
                    raise NotFoundError(f"No item '{variant_id}' in this store.")
                if not row["available"]:
                    raise UserError(f"Item '{variant_id}' is not available.")
                if row["stock"] is not None and quantity > row["stock"]:
                    left = f"only {row['stock']} left" if row["stock"] > 0 else "sold out"
                    raise UserError(f"Item '{variant_id}' is {left}: the cart cannot hold {quantity}.")
                others = db.execute(
                    sql(
                        "SELECT COUNT(*) FROM cart_items WHERE account = :account AND user_id = :user "
                        "AND variant_id <> :variant"
                    ),
                    owner.params(variant=variant_id),
                ).scalar_one()
                if others >= MAX_LINES:
                    raise UserError(f"A cart holds at most {MAX_LINES} different items.")
                db.execute(
                    sql(
                        "INSERT INTO cart_items (account, user_id, variant_id, quantity, added_at) "
                        "VALUES (:account, :user, :variant, :quantity, :now) "
                        "ON CONFLICT (account, user_id, variant_id) "
                        "DO UPDATE SET quantity = excluded.quantity"
                    ),
                    owner.params(variant=variant_id, quantity=quantity, now=time.time()),
                )
        return self.lines(owner)

    def add(self, owner: Owner, variant_id: str, quantity: int = 1) -> list[LineItem]:
        current = {line.variant_id: line.quantity for line in self.lines(owner)}
        return self.set_quantity(owner, variant_id, current.get(variant_id, 0) + quantity)

    def clear(self, owner: Owner) -> None:
        with self.db.transaction(lock=f"cart:{owner.account}:{owner.user}") as db:
            db.execute(
                sql("DELETE FROM cart_items WHERE account = :account AND user_id = :user"), owner.params()
            )
