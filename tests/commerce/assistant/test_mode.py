"""A planned shopping turn through the conversation runner, on the scripted model: the model only plans,
the runtime acts, and the reply names only what the store returned."""

from __future__ import annotations

import json

from ponder.commerce.shop import Shop
from ponder.config import Settings
from ponder.conversation import Conversation, TurnDone, TurnSpec
from ponder.messages import Message, ToolCallEvent, ToolResultEvent
from ponder.modes.registry import select
from ponder.testing import ScriptedModel

from ..conftest import ANN


async def turn(
    shop: Shop, model: ScriptedModel, said: str, history: list[Message]
) -> tuple[str, list, TurnDone]:
    conversation = Conversation(Settings(), shop=lambda: shop)
    spec = TurnSpec([*history, Message.user(said)], select("shopping"), owner=None, store="shop")
    spec = TurnSpec(spec.messages, spec.selection, owner=ANN, memory=False)
    begun = conversation.begin(spec)
    begun.messages = list(spec.messages)
    begun.model = model
    events = [e async for e in begun.run()]
    done = events[-1]
    assert isinstance(done, TurnDone)
    return done.result.text, events, done


async def test_a_search_then_the_second_one_in_the_cart(shop: Shop) -> None:
    model = ScriptedModel(
        [
            json.dumps({"intent": "search", "query": "summer beach"}),
            json.dumps({"intent": "add", "product": "2"}),
        ]
    )
    first, events, done = await turn(shop, model, "Show me summer beach things", [])
    assert any(isinstance(e, ToolCallEvent) and e.call.name == "search_products" for e in events)
    assert any(isinstance(e, ToolResultEvent) and '"product_id"' in e.result.content for e in events)
    assert done.result.details["plan"] == {"intent": "search", "query": "summer beach"}
    listed = [line for line in first.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(listed) >= 2
    second_name = listed[1].split("**")[1]
    history = [Message.user("Show me summer beach things"), Message.assistant(first)]
    added, _, _ = await turn(shop, model, "the second one please", history)
    [line] = shop.carts.lines(ANN)
    product, _ = shop.catalog.variant("shop", line.variant_id)
    assert product.product.name == second_name and f"**{second_name}**" in added


async def test_the_planner_reads_no_tool_schema_and_no_token(shop: Shop) -> None:
    shop.carts.add(ANN, "umb", 1)
    model = ScriptedModel([json.dumps({"intent": "checkout"})])
    text, _, done = await turn(shop, model, "check out please", [])
    [proposal] = done.pending
    [call] = model.calls
    assert call.settings.json_schema is not None and call.settings.tools == ()
    read = "\n".join(m.text for m in call.messages)
    assert proposal.token not in read and proposal.token not in text
    assert "search_products" not in read  # no tool schema: the plan's intents are words
    assert call.messages[-1].text == "check out please"


async def test_a_reply_that_is_not_a_plan_gets_words_from_the_mode(shop: Shop) -> None:
    model = ScriptedModel(["I am not JSON", "Returns are accepted within 30 days."])
    text, _, done = await turn(shop, model, "What is your return policy?", [])
    assert text == "Returns are accepted within 30 days." and done.result.details["plan"] == {
        "intent": "answer"
    }
    assert "Coast" in (model.calls[1].messages[0].text)  # the store's policy prompt, no store tools
    assert model.calls[1].settings.tools == ()
