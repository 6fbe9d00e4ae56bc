"""The commerce toolset: what the model may call under the shopping preset, for one customer of one store.

``ShoppingTools`` is one customer's tools in one conversation: its public methods listed in ``TOOLS`` are
the tools, and ``toolset()`` hands them to the runner bound to that customer, in the order the model reads
them, each run alone (``concurrent=False``). ``shopping_toolset`` builds it and returns its toolset.

- customer.py: ``CustomerTools``, the state every tool is bound to, and ``Proposal``
- browsing.py: reading the catalog, recommendations, the cart and the account (``BrowsingTools``)
- orders.py: reading orders, and the tools that only propose a purchase or a change (``OrderTools``); the
  hand-off to a person
- identity.py: finding the customer who writes in on a support surface (``IdentityTools``)

Every tool is bound to the ``Owner`` given when the tools are built: the model cannot name another user.
Reading tools answer with data; tools that would spend money or change an order only propose, and their
confirmation tokens never reach the model (orders.py). Product text and reviews come back under
``untrusted`` keys, as what they are: data from the catalog. Money is shown as text in the store's
currency ("45.00 EUR"); prices the model gives are in that currency. Ponder's errors (an unknown item, an
empty cart) go back to the model as tool errors saying what they say.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from ponder.commerce.shop import Shop
from ponder.commerce.tools.browsing import BrowsingTools
from ponder.commerce.tools.customer import Proposal
from ponder.commerce.tools.identity import IdentityTools
from ponder.commerce.tools.orders import OrderTools
from ponder.errors import PonderError
from ponder.memory.owner import Owner
from ponder.tools.base import ToolError, from_function
from ponder.tools.toolset import FunctionToolset

__all__ = ["Proposal", "ShoppingTools", "shopping_toolset"]


class ShoppingTools(IdentityTools):
    """The tools for ``owner`` shopping in the store of ``owner.account``, one instance per customer and
    conversation; its public methods in ``TOOLS`` are the tools, in the order the model reads them
    (``identify_customer`` last, and only where the store identifies customers)."""

    TOOLS: ClassVar[tuple[str, ...]] = BrowsingTools.TOOLS + OrderTools.TOOLS + IdentityTools.TOOLS

    def toolset(self) -> FunctionToolset:
        """The tools, bound to this customer; each runs alone (``concurrent=False``), in the order called."""
        toolset = FunctionToolset("shop")
        for name in self.TOOLS:
            if name in IdentityTools.TOOLS and not self.identify_by:
                continue
            toolset.add(from_function(_errors_as_tool_errors(getattr(self, name)), concurrent=False))
        return toolset


def shopping_toolset(
    shop: Shop, owner: Owner, proposals: list[Proposal], session_id: str | None = None
) -> FunctionToolset:
    """The tools for ``owner`` shopping in the store of ``owner.account``."""
    return ShoppingTools(shop, owner, proposals, session_id).toolset()


def _errors_as_tool_errors(fn: Any) -> Any:
    """Ponder's errors (an unknown item, an empty cart) go back to the model as what they say."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PonderError as error:
            raise ToolError(str(error)) from error

    return call
