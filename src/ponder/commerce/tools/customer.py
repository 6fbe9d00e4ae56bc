"""What every shopping tool is bound to: one customer (``Owner``) of one store, in one conversation.

``CustomerTools`` holds the shop, the customer, the turn's proposals and the conversation's id; the tool
classes (browsing.py, orders.py) are built on it, and ``ShoppingTools`` (the package) joins them. A
``Proposal`` is a pending action of the turn with its confirmation token, for the person's client only.
This module holds no tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ponder.commerce.actions import PendingAction
from ponder.commerce.shop import Shop
from ponder.memory.owner import Owner

__all__ = ["CustomerTools", "Proposal"]


@dataclass(frozen=True)
class Proposal:
    """A pending action of this turn, with the token for the person's client (never for the model)."""

    action: PendingAction
    token: str
    owner: Owner  # whose action it is


class CustomerTools:
    """The state the tools share: whose they are, in which store, for which conversation."""

    TOOLS: ClassVar[tuple[str, ...]] = ()  # names of the methods that are tools, in the order the model reads

    def __init__(
        self, shop: Shop, owner: Owner, proposals: list[Proposal], session_id: str | None = None
    ) -> None:
        self.shop = shop
        self.owner = owner
        self.proposals = proposals  # this turn's pending actions, with their tokens, for the person's client
        self.session_id = session_id  # the conversation a hand-off ticket points the person at
        self.account = owner.account
        self.currency = shop.catalog.store_info(self.account)["currency"]
