"""What every shopping tool is bound to: one customer (``Owner``) of one store, in one conversation.

``CustomerTools`` holds the shop, the customer, the turn's proposals and the conversation's id; the tool
classes (browsing.py, orders.py) are built on it, and ``ShoppingTools`` (the package) joins them. A
``Proposal`` is a pending action of the turn with its confirmation token, for the person's client only.
This module holds no tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ponder.commerce.actions import PendingAction
from ponder.commerce.identification import IdentifyBy
from ponder.commerce.shop import Shop
from ponder.memory.owner import Owner

__all__ = ["CustomerTools", "Proposal"]


@dataclass(frozen=True)
class Proposal:
    """A pending action of this turn, with the token for the person's client (never for the model).
    ``held``: the customer was identified in the conversation (identity.py), so the token is held for
    their own surfaces (agent_actions.py) and this conversation's client must not get it."""

    action: PendingAction
    token: str
    owner: Owner  # whose action it is
    held: bool = False


class CustomerTools:
    """The state the tools share: whose they are, in which store, for which conversation."""

    TOOLS: ClassVar[tuple[str, ...]] = ()  # names of the methods that are tools, in the order the model reads

    def __init__(
        self,
        shop: Shop,
        owner: Owner,
        proposals: list[Proposal],
        session_id: str | None = None,
        *,
        writer: Owner | None = None,
        identify_by: Sequence[IdentifyBy] = (),
    ) -> None:
        self.shop = shop
        self.owner = owner  # the customer the tools act for (the writer, or whom they identified as)
        self.writer = writer or owner  # who writes in the conversation: the surface's own user
        self.identify_by = tuple(identify_by)  # how the store identifies customers here (none: it does not)
        self.proposals = proposals  # this turn's pending actions, with their tokens, for the person's client
        self.session_id = session_id  # the conversation a hand-off ticket points the person at
        self.account = owner.account
        self.currency = shop.catalog.store_info(self.account)["currency"]
