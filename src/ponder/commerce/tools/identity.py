"""The identification tool: a person writing in on a support surface says who they are, and the store finds
them among its customers (commerce/identification.py says how, and what it guards).

Offered only where the store identifies customers (``identify_by``). On success the turn, and every later
turn of the conversation, acts for that customer: the tools read their account and orders (payment methods
shown only as brand and last digits); anything they propose is held for the customer's own surfaces
(orders.py), never confirmed in the conversation, since knowing an email proves nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ponder.commerce.tools.browsing import BrowsingTools
from ponder.commerce.tools.orders import OrderTools
from ponder.memory.owner import Owner
from ponder.tools.base import ToolError

__all__ = ["IdentityTools"]


class IdentityTools(BrowsingTools, OrderTools):
    """The browsing and order tools, and the one that finds the customer who writes in."""

    TOOLS: ClassVar[tuple[str, ...]] = ("identify_customer",)

    def identify_customer(
        self, email: str = "", first_name: str = "", last_name: str = "", zip: str = ""
    ) -> dict[str, Any]:
        """Find the customer who is writing: by their email, or by their first and last name and zip code.
        Ask them for these; never guess them. Nothing about a customer is shown until this succeeds.

        Args:
            email: The email they gave.
            first_name: Their first name, if they gave no email.
            last_name: Their last name, if they gave no email.
            zip: Their zip code, with their name.
        """
        if not self.identify_by or self.session_id is None:
            raise ToolError("This store does not identify customers in conversations.")
        found = self.shop.identification.identify(
            self.account,
            self.session_id,
            self.writer.user,
            email=email,
            first_name=first_name,
            last_name=last_name,
            zip=zip,
            allowed=self.identify_by,
        )
        self.owner = Owner(self.account, found.user_id)
        return {"identified": True, "orders": self.list_orders(), **self.my_account()}
