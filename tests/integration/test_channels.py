"""A whole purchase inside a WhatsApp thread on the default embedded model (Qwen2.5-Coder-1.5B) and the demo
store: the person writes, the channel answers through the real runner and the planned shopping assistant,
the order is proposed with reply buttons, confirmed by a press, placed once; a second press places nothing.
The channel's Graph API is the loopback fake; structure and state are asserted, not wording."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ponder.channels.service import ChannelService
from ponder.commerce.formats import demo_store_path, load_store
from ponder.commerce.model import Address
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.config import ChannelConfig, MemoryConfig, Settings
from ponder.conversation import Conversation
from ponder.memory.owner import Owner
from ponder.memory.service import MemoryService
from ponder.models.embedded.backend import EmbeddedModel
from ponder.store import open_database
from ponder.testing import HashingEmbedder
from ponder.testing.platforms import FakeGraphAPI, Recorded, whatsapp_signature

pytestmark = pytest.mark.asyncio(loop_scope="module")

NUMBER, TOKEN, SECRET = "106540352242922", "graph-token", "app-secret"
ANN = "16505551234"
OWNER = Owner("local", f"whatsapp:{ANN}")


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    with FakeGraphAPI(token=TOKEN) as fake:
        yield fake


def channel_service(tmp_path: Path, graph: FakeGraphAPI, model: EmbeddedModel) -> tuple[ChannelService, Shop]:
    db = open_database(tmp_path / "ponder.db")
    shop = Shop(db, HashingEmbedder(), TestPaymentProvider())
    shop.catalog.import_store("local", load_store(demo_store_path()))
    shop.customers.add_address(OWNER, Address("home", "1 Sea Road", "Porto", "PT", zip="4000-123"))
    shop.customers.add_card(OWNER, shop.provider, "4242 4242 4242 4242")
    settings = Settings(data_dir=tmp_path, programs=False)
    memory = MemoryService(db, MemoryConfig(extract=False), HashingEmbedder())
    config = ChannelConfig(
        name="wa",
        platform="whatsapp",
        account="local",
        base_url=graph.base_url + "/v21.0",
        phone_number_id=NUMBER,
        token_env="WA_TOKEN",
        app_secret_env="WA_SECRET",
        verify_token_env="WA_VERIFY",
    )
    env = {"WA_TOKEN": TOKEN, "WA_SECRET": SECRET, "WA_VERIFY": "v"}
    from ponder.channels.service import build_channel

    service = ChannelService(
        db,
        [config],
        Conversation(settings, memory=lambda: memory, shop=lambda: shop),
        model=lambda: model,
        shop=lambda: shop,
        channels={"wa": build_channel(config, env)},
    )
    return service, shop


async def say(service: ChannelService, graph: FakeGraphAPI, message: dict[str, Any]) -> list[Recorded]:
    """Deliver one message as the platform would, answer it, and return what was sent back."""
    before = len(graph.sent)
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": NUMBER},
        "contacts": [{"profile": {"name": "Ann"}, "wa_id": ANN}],
        "messages": [{"from": ANN, "timestamp": str(int(time.time())), **message}],
    }
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
        }
    ).encode()
    assert await service.receive("wa", {"x-hub-signature-256": whatsapp_signature(SECRET, body)}, body) == 1
    await service.run_due()
    return graph.sent[before:]


def text(message_id: str, words: str) -> dict[str, Any]:
    return {"id": message_id, "type": "text", "text": {"body": words}}


def press(message_id: str, payload: str) -> dict[str, Any]:
    reply = {"type": "button_reply", "button_reply": {"id": payload, "title": "Confirm"}}
    return {"id": message_id, "type": "interactive", "interactive": reply}


async def test_a_purchase_in_the_thread_on_the_default_model(
    default_model: EmbeddedModel, graph: FakeGraphAPI, tmp_path: Path
) -> None:
    service, shop = channel_service(tmp_path, graph, default_model)

    found = await say(service, graph, text("wamid.1", "Do you have a linen shirt?"))
    listing = [r.json for r in found if r.json.get("type") == "interactive"]
    assert listing and listing[-1]["interactive"]["type"] == "list", [r.json for r in found]
    rows = listing[-1]["interactive"]["action"]["sections"][0]["rows"]
    assert rows and all(r["id"].startswith("item:") for r in rows)

    added = await say(service, graph, text("wamid.2", "Add the linen shirt in size M to my cart."))
    assert added, "no reply to the add"
    assert shop.carts.lines(OWNER), [r.json for r in added]

    proposed = await say(service, graph, text("wamid.3", "Check out please."))
    buttons = [
        b["reply"]
        for r in proposed
        if r.json.get("type") == "interactive" and r.json["interactive"]["type"] == "button"
        for b in r.json["interactive"]["action"]["buttons"]
    ]
    confirm = next((b["id"] for b in buttons if b["title"] == "Confirm"), None)
    assert confirm is not None, [r.json for r in proposed]
    assert "tok_" not in json.dumps([r.json for r in proposed])

    done = await say(service, graph, press("wamid.4", confirm))
    assert done[-1].json["text"]["body"].startswith("Done.")
    again = await say(service, graph, press("wamid.5", confirm))
    assert "Already done" in again[-1].json["text"]["body"]
    placed = [o for o in shop.orders.list_orders(OWNER)]
    assert len(placed) == 1 and placed[0]["status"] == "pending"
    assert len(shop.provider.charges()) == 1  # type: ignore[attr-defined]
