"""The shopping mode on a real embedded model and the demo store: the call parses, validates and runs
against the catalog; nothing is bought. Structure, not wording."""

from __future__ import annotations

import jsonschema
import pytest

from ponder.commerce.formats import demo_store_path, load_store
from ponder.commerce.mode import shopping_options
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.commerce.tools import Proposal
from ponder.memory.owner import Owner
from ponder.messages import Message, ToolCallEvent, ToolResultEvent
from ponder.models.base import ModelSettings
from ponder.models.embedded.backend import EmbeddedModel
from ponder.modes import ModeOptions, get_mode
from ponder.store import open_database
from ponder.testing import HashingEmbedder
from ponder.turn import run_turn

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_shopping_question_searches_the_catalog(qwen_small: EmbeddedModel, tmp_path) -> None:
    shop = Shop(open_database(tmp_path / "p.db"), HashingEmbedder(), TestPaymentProvider())
    shop.catalog.import_store("local", load_store(demo_store_path()))
    proposals: list[Proposal] = []
    options = shopping_options(shop, Owner("local", "ann"), ModeOptions(), proposals)
    events: list[object] = []
    result = await run_turn(
        get_mode("instant", options),
        qwen_small,
        [Message.user("Search the catalog for a linen shirt for a beach wedding.")],
        ModelSettings(temperature=0.0, max_tokens=128),
        events.append,
    )
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls, f"no tool call; the model said: {result.text!r}"
    assert options.tools is not None
    for call in calls:
        jsonschema.validate(call.arguments, options.tools.tools[call.name].parameters)
    results = [e.result for e in events if isinstance(e, ToolResultEvent)]
    assert len(results) == len(calls)
    assert result.text.strip()
    assert shop.orders.list_orders(Owner("local", "ann")) == [
        o for o in shop.orders.list_orders(Owner("local", "ann")) if o["history"][0]["note"] == "imported"
    ]  # no order placed by the turn
    assert shop.provider.charges() == []  # type: ignore[attr-defined]


async def test_a_planned_shopping_turn_on_the_embedded_model(qwen_small: EmbeddedModel, tmp_path) -> None:
    """The default assistant: the model's plan parses under the grammar and the store carries it out."""
    from ponder.config import Settings
    from ponder.conversation import Conversation, TurnDone, TurnSpec
    from ponder.modes.registry import select

    shop = Shop(open_database(tmp_path / "p.db"), HashingEmbedder(), TestPaymentProvider())
    shop.catalog.import_store("local", load_store(demo_store_path()))
    conversation = Conversation(Settings(), shop=lambda: shop)
    said = [Message.user("Do you have a linen shirt in size M under 100 dollars?")]
    turn = conversation.begin(TurnSpec(said, select("shopping"), owner=Owner("local", "ann"), memory=False))
    turn.messages, turn.model = list(said), qwen_small
    events = [e async for e in turn.run()]
    done = events[-1]
    assert isinstance(done, TurnDone) and done.result.details["plan"]["intent"] in ("search", "recommend")
    assert done.result.details["plan"].get("max_price") == 100.0  # written plainly: taken from the words
    assert any(isinstance(e, ToolCallEvent) for e in events) and "**" in done.result.text
    assert shop.provider.charges() == []  # type: ignore[attr-defined]
