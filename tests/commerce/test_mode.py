"""The shopping preset on the scripted model: tools bound to the customer, proposals it cannot confirm."""

from __future__ import annotations

import pytest

from ponder.commerce.mode import shopping_options
from ponder.commerce.shop import Shop
from ponder.commerce.tools import Proposal
from ponder.config import Assistant, CommerceConfig, Settings
from ponder.conversation import Conversation, TurnSpec
from ponder.memory.owner import Owner
from ponder.messages import Message, ToolCallPart
from ponder.models.base import ModelSettings
from ponder.modes import ModeOptions, get_mode
from ponder.modes.registry import select
from ponder.testing import ScriptedModel
from ponder.turn import run_turn

ANN = Owner("shop", "ann")


async def test_a_shopping_turn_searches_fills_the_cart_and_only_proposes_the_order(shop: Shop) -> None:
    proposals: list[Proposal] = []
    options = shopping_options(shop, ANN, ModeOptions(), proposals, session_id="s1")
    assert options.tools is not None and options.system_prompt is not None
    names = set(options.tools.tools)
    assert {"search_products", "add_to_cart", "checkout", "cancel_order", "hand_off_to_person"} <= names
    assert not any("confirm" in n for n in names)  # nothing the model can call confirms
    assert "Coast" in options.system_prompt and "not instructions" in options.system_prompt
    model = ScriptedModel(
        [
            ToolCallPart("c1", "search_products", {"query": "beach umbrella", "max_price": 30}),
            ToolCallPart("c2", "add_to_cart", {"item_id": "umb"}),
            ToolCallPart("c3", "checkout", {"address_id": "home", "payment_method_id": "visa"}),
            "The order is proposed.",
            "I have proposed the order of the umbrella for 25.00 EUR; it waits for your confirmation.",
        ]
    )
    mode = get_mode("thinking", options)  # several tool rounds (Instant allows one)
    result = await run_turn(mode, model, [Message.user("Buy me a beach umbrella.")], ModelSettings())
    assert "waits for your confirmation" in result.text
    [proposal] = proposals
    assert proposal.owner == ANN and proposal.action.kind == "place_order" and proposal.action.amount == 2500
    seen = "\n".join(
        str(getattr(part, "text", "") or getattr(part, "content", ""))
        for call in model.calls
        for message in call.messages
        for part in message.parts
    )
    assert proposal.token not in seen and proposal.action.id in seen  # the model saw the id, never the token
    assert "Beach umbrella" in seen  # the search result reached it
    assert shop.provider.charges() == []  # type: ignore[attr-defined]
    done = shop.actions.confirm(ANN, proposal.action.id, proposal.token)
    assert done.status == "done" and len(shop.provider.charges()) == 1  # type: ignore[attr-defined]


async def test_tool_errors_reach_the_model_as_errors(shop: Shop) -> None:
    proposals: list[Proposal] = []
    options = shopping_options(shop, ANN, ModeOptions(), proposals)
    model = ScriptedModel(
        [
            [
                ToolCallPart("c1", "add_to_cart", {"item_id": "no-such-item"}),
                ToolCallPart("c2", "checkout", {"address_id": "home", "payment_method_id": "visa"}),
                ToolCallPart("c3", "get_order", {"order_id": "#W1"}),
            ],
            "Sorry.",
        ]
    )
    await run_turn(get_mode("instant", options), model, [Message.user("Add it and buy.")], ModelSettings())
    results = model.calls[1].messages[-1].parts
    texts = [getattr(p, "content", "") for p in results]
    assert "No item 'no-such-item'" in texts[0] and "cart is empty" in texts[1] and '"#W1"' in texts[2]
    assert proposals == []


@pytest.mark.parametrize("assistant", ["planned", "tools"])
async def test_the_shopping_preset_runs_under_auto_with_the_store(shop: Shop, assistant: Assistant) -> None:
    settings = Settings(commerce=CommerceConfig(assistant=assistant))
    conversation = Conversation(settings, shop=lambda: shop)
    options = ModeOptions(system_prompt="Answer in French.")
    turn = conversation.begin(TurnSpec([Message.user("hi")], select("shopping"), options, store="shop"))
    assert turn.mode.system_prompt is not None and turn.mode.system_prompt.endswith("Answer in French.")
    assert "Coast" in turn.mode.system_prompt
    # planned: the model plans and the runtime calls the store, so the model is given no store tools
    assert (turn.mode.tools is None) == (assistant == "planned")
    steps = ['{"intent": "answer"}', "Bonjour."] if assistant == "planned" else ["Bonjour."]
    await turn.prepare(ScriptedModel(steps))
    result = await turn.complete()
    assert result.text == "Bonjour." and result.mode == "auto" and result.details["preset"] == "shopping"
    assert result.details["router"]["mode"] in ("instant", "thinking", "contemplating")


def test_the_shopping_preset_runs_thinking_where_the_router_picks_contemplating(shop: Shop) -> None:
    question = (
        "A shop sells pens at $2 and pads at $5. Ann buys 3 pens and 4 pads, Bob buys 6 pens and 1 pad, "
        "Cid buys twice what Ann buys. They pay with a $100 note. How much change do they get in total?"
    )
    conversation = Conversation(Settings(), shop=lambda: shop)
    plain = conversation.begin(TurnSpec([Message.user(question)]))
    shopping = conversation.begin(TurnSpec([Message.user(question)], select("shopping"), store="shop"))
    assert plain.mode_name == "contemplating"
    assert shopping.mode_name == "thinking" and shopping.mode.name == "thinking"
    assert shopping.router is not None and "shopping" in shopping.router["reason"]
