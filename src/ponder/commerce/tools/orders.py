"""The order tools: the customer's orders, read, and the tools that would spend money or change an order
(``checkout``, ``cancel_order``, ``modify_order_items``, ``change_order_address``,
``change_order_payment``, ``return_items``, ``exchange_items``), which only **propose**; and the hand-off
to a person of the store's staff.

A proposing tool records a pending action (actions.py) and answers with its summary and id, never its
confirmation token: the token goes into ``proposals`` (a ``Proposal``), which the CLI, the server or the
web page shows to the person. The model cannot see it, so nothing it reads can confirm anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ponder.commerce.actions import PendingAction, money
from ponder.commerce.agent_actions import hold_proposal
from ponder.commerce.model import Address
from ponder.commerce.orders import Swap
from ponder.commerce.pricing import checked_codes
from ponder.commerce.tools.customer import CustomerTools, Proposal
from ponder.tools.base import ToolError

__all__ = ["OrderTools"]


class OrderTools(CustomerTools):
    """Order tools for one customer; the changes are proposals the person confirms."""

    TOOLS: ClassVar[tuple[str, ...]] = (
        "list_orders",
        "get_order",
        "checkout",
        "cancel_order",
        "modify_order_items",
        "change_order_address",
        "change_order_payment",
        "return_items",
        "exchange_items",
        "hand_off_to_person",
    )

    def list_orders(self) -> list[dict[str, Any]]:
        """The customer's orders, newest first, with their status and total."""
        return [
            {
                "order_id": o["id"],
                "status": o["status"],
                "total": money(o["total"], o["currency"]),
                "items": [f"{i['quantity']} × {i['name']}" for i in o["items"]],
            }
            for o in self.shop.orders.list_orders(self.owner)
        ]

    def get_order(self, order_id: str) -> dict[str, Any]:
        """One order in full: items (numbered by "seq", for changes, returns and exchanges), address,
        payments and status history.

        Args:
            order_id: The order's id.
        """
        return dict(self.shop.orders.get(self.owner, order_id))

    def _propose(self, action: PendingAction, token: str) -> dict[str, Any]:
        held = self.owner != self.writer  # for a customer identified in the conversation: their surfaces
        if held:
            hold_proposal(self.shop.db, self.owner, action.id, token, self.session_id or "")
        self.proposals.append(Proposal(action, token, self.owner, held=held))
        return action.for_model()

    def checkout(
        self,
        address_id: str,
        payment_method_id: str,
        discount_codes: Sequence[str] = (),
        shipping_option: str = "",
    ) -> dict[str, Any]:
        """Propose buying everything in the cart. Nothing is bought until the customer confirms it themselves.

        Args:
            address_id: Where to ship, from my_account.
            payment_method_id: How to pay, from my_account.
            discount_codes: Discount codes the customer gave, exactly as written; none if they gave none.
            shipping_option: A shipping option's id the customer chose; empty: the cheapest to the address.
        """
        return self._propose(
            *self.shop.actions.propose_checkout(
                self.owner,
                address_id=address_id,
                payment_method_id=payment_method_id,
                codes=checked_codes(discount_codes),
                shipping_option=shipping_option or None,
            )
        )

    def change_order_payment(self, order_id: str, payment_method_id: str) -> dict[str, Any]:
        """Propose paying a pending order with another saved payment method: what it was paid is charged to
        the new method and refunded to the old one. The customer confirms it themselves.

        Args:
            order_id: The pending order.
            payment_method_id: The method to pay with instead, from my_account.
        """
        return self._propose(
            *self.shop.actions.propose_change_payment(self.owner, order_id, payment_method_id)
        )

    def cancel_order(self, order_id: str, reason: str) -> dict[str, Any]:
        """Propose cancelling a pending order (refunded in full). The customer confirms it themselves.

        Args:
            order_id: The order to cancel.
            reason: Why, in the customer's words.
        """
        return self._propose(*self.shop.actions.propose_cancel(self.owner, order_id, reason))

    def return_items(
        self, order_id: str, item_numbers: list[int], reason: str, refund_to: str = ""
    ) -> dict[str, Any]:
        """Propose returning delivered items for a refund. The customer confirms it themselves.

        Args:
            order_id: The delivered order.
            item_numbers: The items' "seq" numbers in get_order.
            reason: Why, in the customer's words.
            refund_to: Only if the customer asks: a payment method id from my_account to refund instead of
                the one that paid (a gift card, where the store allows it). Empty: the one that paid.
        """
        proposal = self.shop.actions.propose_return(
            self.owner, order_id, item_numbers, reason, refund_to or None
        )
        return self._propose(*proposal)

    def modify_order_items(
        self, order_id: str, item_numbers: list[int], new_item_ids: list[str], payment_method_id: str
    ) -> dict[str, Any]:
        """Propose changing items of a pending order to other items of the same product (size, color...).

        A pending order's items can be changed only once, so gather every change the customer wants first
        and propose them together. The price difference is charged to the payment method, or refunded to it
        where the store allows (the store says where if not). The customer confirms it themselves.

        Args:
            order_id: The pending order.
            item_numbers: The items to change, by their "seq" numbers in get_order.
            new_item_ids: The item each becomes, in the same order: an item_id of the same product (from
                get_product), different from the current one and in stock.
            payment_method_id: Pays or receives the price difference, from my_account or the order.
        """
        swaps = _swaps(item_numbers, new_item_ids)
        return self._propose(
            *self.shop.actions.propose_modify(self.owner, order_id, swaps, payment_method_id)
        )

    def change_order_address(
        self,
        order_id: str,
        address_id: str = "",
        line1: str = "",
        line2: str = "",
        city: str = "",
        state: str = "",
        zip: str = "",
        country: str = "",
    ) -> dict[str, Any]:
        """Propose shipping a pending order to another address. The customer confirms it themselves.

        Give a saved address (address_id, from my_account) or a new one (line1, city and country at least).
        No money moves.

        Args:
            order_id: The pending order.
            address_id: A saved address's id; leave the other fields empty when giving it.
            line1: A new address: the street and number.
            line2: A new address: apartment, floor, building (optional).
            city: A new address: the city.
            state: A new address: the state or region (optional).
            zip: A new address: the postal code.
            country: A new address: the country.
        """
        fields = (line1, line2, city, state, zip, country)
        if address_id and any(fields):
            raise ToolError("Give either address_id or the fields of a new address, not both.")
        if address_id:
            return self._propose(
                *self.shop.actions.propose_change_address(self.owner, order_id, address_id=address_id)
            )
        new = Address("", line1, city, country, line2=line2, state=state, zip=zip)
        return self._propose(*self.shop.actions.propose_change_address(self.owner, order_id, address=new))

    def exchange_items(
        self, order_id: str, item_numbers: list[int], new_item_ids: list[str], payment_method_id: str
    ) -> dict[str, Any]:
        """Propose exchanging items of a delivered order for items of the same product (size, color...).

        The same item again replaces a faulty one. A delivered order is returned or exchanged only once, so
        gather every item first. The customer sends the old items back; the price difference is charged to
        the payment method, or refunded to it where the store allows (the store says where if not). The
        customer confirms it themselves.

        Args:
            order_id: The delivered order.
            item_numbers: The items to exchange, by their "seq" numbers in get_order.
            new_item_ids: The item each is exchanged for, in the same order: an item_id of the same product
                (from get_product), in stock.
            payment_method_id: Pays or receives the price difference, from my_account or the order.
        """
        swaps = _swaps(item_numbers, new_item_ids)
        return self._propose(
            *self.shop.actions.propose_exchange(self.owner, order_id, swaps, payment_method_id)
        )

    def hand_off_to_person(self, reason: str, summary: str) -> dict[str, Any]:
        """Hand the conversation to a person of the store's staff, when the customer asks for one or the
        request is beyond these tools.

        Args:
            reason: Why a person is needed, in a few words.
            summary: What the customer wants and what was done so far, for the person taking over.
        """
        ticket = self.shop.support.open_ticket(self.owner, reason, summary, self.session_id)
        return {"ticket": ticket.id, "status": "A person from the store will take over this conversation."}


def _swaps(item_numbers: list[int], new_item_ids: list[str]) -> list[Swap]:
    if len(item_numbers) != len(new_item_ids):
        raise ToolError(
            f"Give one new item id for each item number ({len(item_numbers)} numbers, "
            f"{len(new_item_ids)} item ids)."
        )
    return list(zip(item_numbers, new_item_ids, strict=True))
