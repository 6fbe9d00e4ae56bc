"""The identification tool (tools assistant): offered only where the store identifies customers; on success
the tools act for the customer found, show their payment methods masked, and hold what they propose."""

from __future__ import annotations

import json

import pytest

from ponder.commerce.agent_actions import held_proposals
from ponder.commerce.shop import Shop
from ponder.commerce.tools import Proposal, ShoppingTools
from ponder.memory.owner import Owner
from ponder.store.database import sql
from ponder.tools.base import ToolError

from ..conftest import ANN, SHOP

VISITOR = Owner(SHOP, "visitor-1")


def visitor_tools(shop: Shop, proposals: list[Proposal], identify: bool = True) -> ShoppingTools:
    with shop.db.transaction() as db:
        db.execute(
            sql("UPDATE users SET email = 'ann@example.com' WHERE account = :a AND user_id = 'ann'"),
            {"a": SHOP},
        )
    return ShoppingTools(shop, VISITOR, proposals, "s1", identify_by=("email",) if identify else ())


def test_the_tool_is_offered_only_where_the_store_identifies_customers(shop: Shop) -> None:
    assert "identify_customer" in [t.name for t in visitor_tools(shop, []).toolset().tools]
    plain = visitor_tools(shop, [], identify=False)
    assert "identify_customer" not in [t.name for t in plain.toolset().tools]
    with pytest.raises(ToolError, match="does not identify"):
        plain.identify_customer(email="ann@example.com")


def test_identified_the_tools_act_for_the_customer_and_hold_their_proposals(shop: Shop) -> None:
    proposals: list[Proposal] = []
    tools = visitor_tools(shop, proposals)
    assert tools.list_orders() == []  # the visitor has none: nothing of Ann's before
    found = tools.identify_customer(email="ANN@example.com")
    assert tools.owner == ANN and [o["order_id"] for o in found["orders"]] == ["#W1"]
    assert "tok_" not in json.dumps(found)  # payment methods by kind, brand and last digits only
    assert shop.identification.identified(SHOP, VISITOR.user, "s1") == "ann"

    shop.carts.add(ANN, "umb", 1)
    tools.checkout(address_id="home", payment_method_id="visa")
    [proposal] = proposals
    assert proposal.held and proposal.owner == ANN
    held = held_proposals(shop.db, ANN)[proposal.action.id]
    assert held.token == proposal.token and held.origin()["kind"] == "identified_conversation"
