"""ShoppingTools, the class whose methods are the shopping tools: every public method is a tool, listed
once; the tools are its methods bound to one customer and conversation; Ponder's errors reach the model as
tool errors while the methods themselves raise them.

What the model reads of the tools (names, descriptions, schemas, order) is pinned in ../test_tools.py."""

from __future__ import annotations

import inspect

import pytest

from ponder.commerce.catalog import UnknownProductError
from ponder.commerce.shop import Shop
from ponder.commerce.tools import ShoppingTools
from ponder.tools.base import ToolContext, ToolError

from ..conftest import ANN


def public_methods() -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(ShoppingTools, inspect.isfunction)
        if not name.startswith("_")
    }


def test_every_public_method_is_a_tool_listed_once() -> None:
    assert len(set(ShoppingTools.TOOLS)) == len(ShoppingTools.TOOLS)
    assert public_methods() - {"toolset"} == set(ShoppingTools.TOOLS)


def test_the_toolset_holds_the_methods_in_order_without_self(shop: Shop) -> None:
    tools = ShoppingTools(shop, ANN, [], identify_by=("email",)).toolset().tools
    assert [t.name for t in tools] == list(ShoppingTools.TOOLS)
    assert all("self" not in t.parameters["properties"] for t in tools)
    assert all(not t.concurrent for t in tools)


async def test_a_hand_off_carries_the_conversation_the_tools_were_built_for(shop: Shop) -> None:
    tools = ShoppingTools(shop, ANN, [], session_id="conv-1")
    [hand_off] = [t for t in tools.toolset().tools if t.name == "hand_off_to_person"]
    answer = await hand_off.invoke(ToolContext(), {"reason": "refund", "summary": "wants a person"})
    [ticket] = shop.support.list_tickets(ANN.account)
    assert (ticket.id, ticket.session_id, ticket.user) == (answer["ticket"], "conv-1", ANN.user)


async def test_ponder_errors_reach_the_model_as_tool_errors_and_the_methods_raise_them(shop: Shop) -> None:
    tools = ShoppingTools(shop, ANN, [])
    with pytest.raises(UnknownProductError):
        tools.get_product("no-such-product")
    [get_product] = [t for t in tools.toolset().tools if t.name == "get_product"]
    with pytest.raises(ToolError):
        await get_product.invoke(ToolContext(), {"product_id": "no-such-product"})
