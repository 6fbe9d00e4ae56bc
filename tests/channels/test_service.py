"""Telegram and Messenger threads through the channel service, on the platforms' fixture updates and their
loopback fakes: a message answered once (a redelivery adds nothing), an order's Confirm button pressed in
the thread (Telegram's callback query answered), a wrong secret refused before anything is written, and
sends retried after the platform's 429 until it takes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ponder.channels.base import Refused
from ponder.channels.messenger import MessengerChannel
from ponder.channels.service import ChannelService
from ponder.channels.telegram import TelegramChannel
from ponder.commerce.model import Address, Customer, PaymentMethod, Product, StoreData, Variant
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.config import ChannelConfig, MemoryConfig, Settings
from ponder.conversation import Conversation
from ponder.memory.owner import Owner
from ponder.memory.service import MemoryService
from ponder.store import open_database
from ponder.store.database import sql
from ponder.store.jobs import JobQueue
from ponder.testing import HashingEmbedder, ScriptedModel
from ponder.testing.platforms import FakeBotAPI, FakeGraphAPI, whatsapp_signature

FIXTURES = Path(__file__).parent / "fixtures"
CHAT, PSID = "1111111", "1254477777772919"  # the fixtures' Telegram chat and Messenger sender
SECRET = "s3cret-token"
BUY = json.dumps({"intent": "checkout", "product": "Beach umbrella"})


def store(*users: str) -> StoreData:
    return StoreData(
        name="Coast",
        currency="EUR",
        products=(Product("umbrella", "Beach umbrella", (Variant("umb", "umbrella", {}, 2500, stock=3),)),),
        customers=tuple(
            Customer(
                user,
                addresses=(Address("home", "1 Sea Road", "Porto", "PT"),),
                payment_methods=(PaymentMethod("visa", "card", "tok_test_visa_4242", "visa", "4242"),),
            )
            for user in users
        ),
    )


@pytest.fixture
def bot() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    with FakeGraphAPI(token="page-token") as fake:
        yield fake


def service(
    database_url: str, config: ChannelConfig, channel: Any, model: ScriptedModel, users: tuple[str, ...]
) -> tuple[ChannelService, Shop]:
    db = open_database(database_url)
    shop = Shop(db, HashingEmbedder(), TestPaymentProvider())
    shop.catalog.import_store("acme", store(*users))
    memory = MemoryService(db, MemoryConfig(extract=False), HashingEmbedder())
    conversation = Conversation(Settings(programs=False), memory=lambda: memory, shop=lambda: shop)
    channels = {config.name: channel}
    return ChannelService(db, [config], conversation, lambda: model, lambda: shop, channels=channels), shop


def telegram(bot: FakeBotAPI) -> TelegramChannel:
    return TelegramChannel("tg", base_url=bot.base_url, bot_token=bot.token, secret_token=SECRET)


TELEGRAM = ChannelConfig(name="tg", platform="telegram", account="acme", token_env="X", secret_token_env="Y")
MESSENGER = ChannelConfig(
    name="fb", platform="messenger", account="acme", token_env="X", app_secret_env="Y", verify_token_env="Z"
)


async def test_a_telegram_order_is_confirmed_by_its_inline_button(database_url: str, bot: FakeBotAPI) -> None:
    channels, shop = service(
        database_url, TELEGRAM, telegram(bot), ScriptedModel([BUY]), (f"telegram:{CHAT}",)
    )
    update = json.loads((FIXTURES / "telegram" / "update_text.json").read_text())
    update["message"]["text"] = "Buy the beach umbrella"
    raw = json.dumps(update).encode()
    with pytest.raises(Refused):
        await channels.receive("tg", {"x-telegram-bot-api-secret-token": "guess"}, raw)
    assert await channels.run_due() == 0  # nothing was taken
    headers = {"x-telegram-bot-api-secret-token": SECRET}
    assert await channels.receive("tg", headers, raw) == 1
    assert await channels.receive("tg", headers, raw) == 0  # Telegram delivers it again
    await channels.run_due()
    sent = [r.json for r in bot.sent if r.path.endswith("/sendMessage")]
    keyboard = sent[-1]["reply_markup"]["inline_keyboard"]
    confirm = next(row[0]["callback_data"] for row in keyboard if row[0]["text"] == "Confirm")
    assert len(confirm.encode()) <= 64 and all(
        m["chat_id"] == int(CHAT) or m["chat_id"] == CHAT for m in sent
    )

    pressed = json.loads((FIXTURES / "telegram" / "update_callback_query.json").read_text())
    pressed["callback_query"]["data"] = confirm
    assert await channels.receive("tg", headers, json.dumps(pressed).encode()) == 1
    await channels.run_due()
    assert any(r.path.endswith("/answerCallbackQuery") for r in bot.sent)  # the button stops spinning
    done = [r.json for r in bot.sent if r.path.endswith("/sendMessage")][-1]
    assert done["text"].startswith("Done.")
    [order] = shop.orders.list_orders(Owner("acme", f"telegram:{CHAT}"))
    assert order["total"] == 2500


async def test_a_messenger_message_is_answered_after_the_platforms_429(
    database_url: str, graph: FakeGraphAPI
) -> None:
    page = MessengerChannel(
        "fb",
        base_url=graph.base_url + "/v21.0",
        page_access_token="page-token",
        app_secret="app",
        verify_token="v",
    )
    channels, _ = service(
        database_url,
        MESSENGER,
        page,
        ScriptedModel([json.dumps({"intent": "answer"}), "Hello from the store."]),
        (),
    )
    raw = (FIXTURES / "messenger" / "message_text.json").read_bytes()
    assert await channels.receive("fb", {"x-hub-signature-256": whatsapp_signature("app", raw)}, raw) == 1
    graph.fail_next(1, 429, retry_after=0)
    await channels.run_due()  # the turn, then a send the platform refuses: it waits for its retry
    queue = JobQueue(channels.db)
    assert queue.state("channel.send", "fb:in:mid.1457764197618:41d102a3e1ae206a38#0") == "queued"
    with channels.db.transaction() as conn:  # the retry is due now
        conn.execute(sql("UPDATE jobs SET run_at = 0 WHERE state = 'queued'"))
    await channels.run_due()
    sends = [r.json for r in graph.sent if r.path.endswith("/me/messages")]
    assert len(sends) == 2 and sends[-1]["recipient"]["id"] == PSID
    assert sends[-1]["message"]["text"] == "Hello from the store."
    assert channels.outbox.uncertain() == 0  # a refused send is no possible duplicate


async def test_in_a_group_only_the_member_who_asked_can_confirm(database_url: str, bot: FakeBotAPI) -> None:
    group, ann, eve = "-1001234", "1111111", "2222222"
    channels, shop = service(
        database_url, TELEGRAM, telegram(bot), ScriptedModel([BUY]), (f"telegram:{ann}",)
    )
    headers = {"x-telegram-bot-api-secret-token": SECRET}
    update = json.loads((FIXTURES / "telegram" / "update_text.json").read_text())
    update["message"]["chat"] = {"id": int(group), "type": "supergroup", "title": "Beach club"}
    update["message"]["text"] = "Buy the beach umbrella"
    await channels.receive("tg", headers, json.dumps(update).encode())
    await channels.run_due()
    keyboard = [r.json for r in bot.sent if r.path.endswith("/sendMessage")][-1]["reply_markup"][
        "inline_keyboard"
    ]
    confirm = next(row[0]["callback_data"] for row in keyboard if row[0]["text"] == "Confirm")
    pressed = json.loads((FIXTURES / "telegram" / "update_callback_query.json").read_text())
    query = pressed["callback_query"]
    query["data"], query["from"]["id"], query["message"]["chat"] = (
        confirm,
        int(eve),
        update["message"]["chat"],
    )
    await channels.receive("tg", headers, json.dumps(pressed).encode())
    await channels.run_due()
    said = [r.json for r in bot.sent if r.path.endswith("/sendMessage")][-1]["text"]
    assert "Only the person who asked" in said
    assert shop.orders.list_orders(Owner("acme", f"telegram:{ann}")) == []


async def test_a_message_that_cannot_be_answered_still_gets_a_reply(
    database_url: str, bot: FakeBotAPI
) -> None:
    broken = ScriptedModel([RuntimeError("the model backend crashed")] * 5)
    channels, _ = service(database_url, TELEGRAM, telegram(bot), broken, ())
    raw = (FIXTURES / "telegram" / "update_text.json").read_bytes()
    await channels.receive("tg", {"x-telegram-bot-api-secret-token": SECRET}, raw)
    for _ in range(5):  # each try fails; the backoff made due at once
        await channels.run_due()
        with channels.db.transaction() as conn:
            conn.execute(sql("UPDATE jobs SET run_at = 0 WHERE state = 'queued'"))
    await channels.run_due()
    [sorry] = [r.json for r in bot.sent if r.path.endswith("/sendMessage")]
    assert sorry["text"].startswith("Sorry, something went wrong")


async def test_what_a_thread_states_about_the_person_is_queued_for_learning(
    database_url: str, bot: FakeBotAPI
) -> None:
    db = open_database(database_url)
    shop = Shop(db, HashingEmbedder(), TestPaymentProvider())
    shop.catalog.import_store("acme", store())
    memory = MemoryService(db, MemoryConfig(extract=True), HashingEmbedder())
    settings = Settings(programs=False, memory=MemoryConfig(extract=True))
    conversation = Conversation(settings, memory=lambda: memory, shop=lambda: shop)
    search = ScriptedModel([json.dumps({"intent": "search", "query": "umbrella"})], default="Here they are.")
    channels = ChannelService(
        db,
        [TELEGRAM],
        conversation,
        lambda: search,
        lambda: shop,
        channels={"tg": telegram(bot)},
        learn_with="scripted:learner",
    )
    update = json.loads((FIXTURES / "telegram" / "update_text.json").read_text())
    update["message"]["text"] = "I am allergic to latex. Show me umbrellas."
    await channels.receive("tg", {"x-telegram-bot-api-secret-token": SECRET}, json.dumps(update).encode())
    await channels.run_due()
    with db.transaction() as conn:
        rows = conn.execute(sql("SELECT payload FROM jobs WHERE kind = 'memory.learn'")).all()
    [payload] = [json.loads(r[0]) for r in rows]
    assert "allergic to latex" in payload["mine"] and payload["model"] == "scripted:learner"
    assert payload["user"] == f"telegram:{CHAT}" and payload["session"] == f"tg:{CHAT}"
