"""The Telegram adapter against the documented updates (tests/channels/fixtures/telegram) and FakeBotAPI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ponder.channels.base import Choice, Inbound, ListItem, Outbound, Refused, SendFailed
from ponder.channels.telegram import TELEGRAM_LIMITS, TelegramChannel
from ponder.testing.platforms import FakeBotAPI

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
BOT_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
SECRET = "s3cr3t_-Token"
CHAT = "1111111"  # the fixtures' chat, a private one: its id is the user's


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def channel(base_url: str = "https://api.telegram.org") -> TelegramChannel:
    return TelegramChannel("tg", base_url=base_url, bot_token=BOT_TOKEN, secret_token=SECRET)


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(BOT_TOKEN) as bot:
        yield bot


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


# --- receiving ------------------------------------------------------------------------------------------


def test_parse_a_text_message() -> None:
    [inbound] = channel().parse(raw("update_text.json"))
    assert inbound == Inbound(
        message_id="1111111:1365",
        sender=CHAT,
        thread=CHAT,
        kind="text",
        at=1441645532.0,
        text="/start",
    )


def test_parse_a_voice_note() -> None:
    [inbound] = channel().parse(raw("update_voice.json"))
    assert inbound.kind == "audio" and inbound.message_id == "1111111:1365"  # not update_id
    assert inbound.media_id == "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX" and inbound.mime_type == "audio/ogg"
    assert (inbound.sender, inbound.thread, inbound.text) == (CHAT, CHAT, "")


def test_parse_a_photo_takes_the_largest_size_and_the_caption() -> None:
    [inbound] = channel().parse(raw("update_photo.json"))
    assert inbound.kind == "image" and inbound.text == "What is this?" and inbound.mime_type == "image/jpeg"
    assert inbound.media_id == fixture("update_photo.json")["message"]["photo"][1]["file_id"]


def test_parse_a_callback_query_is_a_choice_titled_by_its_button() -> None:
    [inbound] = channel().parse(raw("update_callback_query.json"))
    assert inbound == Inbound(
        message_id="callback:4382bfdwdsb323b2d9",
        sender=CHAT,
        thread=CHAT,
        kind="choice",
        at=0.0,
        text="A button",
        payload="Data from button callback",
        callback_id="4382bfdwdsb323b2d9",
    )


def test_parse_a_callback_whose_button_is_not_in_the_message_has_no_title() -> None:
    update = fixture("update_callback_query.json")
    update["callback_query"]["data"] = "ok:elsewhere"
    [inbound] = channel().parse(json.dumps(update).encode())
    assert inbound.payload == "ok:elsewhere" and inbound.text == ""


def test_parse_an_audio_file_a_sticker_and_a_location() -> None:
    update = fixture("update_text.json")
    del update["message"]["text"]
    audio = {"file_id": "CQAD", "file_unique_id": "u", "duration": 3, "mime_type": "audio/mpeg"}
    [music] = channel().parse(json.dumps(update | {"message": update["message"] | {"audio": audio}}).encode())
    assert (music.kind, music.media_id, music.mime_type) == ("audio", "CQAD", "audio/mpeg")
    for field, content in (("sticker", {"file_id": "s"}), ("location", {"latitude": 1.0, "longitude": 2.0})):
        body = json.dumps(update | {"message": update["message"] | {field: content}}).encode()
        [odd] = channel().parse(body)
        assert (odd.kind, odd.what, odd.thread) == ("unsupported", field, CHAT)


def test_parse_drops_other_updates_and_service_messages() -> None:
    update = fixture("update_text.json")
    edited = {"update_id": 10001, "edited_message": update["message"]}
    assert channel().parse(json.dumps(edited).encode()) == []
    joined = update["message"] | {"new_chat_members": [update["message"]["from"]]}
    del joined["text"]
    assert channel().parse(json.dumps({"update_id": 10002, "message": joined}).encode()) == []


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"message": {}}', b'{"update_id": 1, "message": {}}'])
def test_parse_refuses_what_is_not_an_update(body: bytes) -> None:
    with pytest.raises(Refused) as refused:
        channel().parse(body)
    assert refused.value.status == 400


def test_authenticate_checks_the_secret_token() -> None:
    tg, body = channel(), raw("update_text.json")
    tg.authenticate({"x-telegram-bot-api-secret-token": SECRET}, body)
    tg.authenticate({"X-Telegram-Bot-Api-Secret-Token": SECRET}, body)  # any case
    for headers in ({"x-telegram-bot-api-secret-token": "wrong"}, {}):
        with pytest.raises(Refused) as refused:
            tg.authenticate(headers, body)
        assert refused.value.status == 403


def test_handshake_is_refused() -> None:
    with pytest.raises(Refused) as refused:
        channel().handshake({"hub.challenge": "c"}, {})
    assert refused.value.status == 404


# --- sending --------------------------------------------------------------------------------------------


async def test_send_text_with_an_inline_keyboard(fake: FakeBotAPI, client: httpx.AsyncClient) -> None:
    message = Outbound(CHAT, "<b>Confirm?</b>", choices=(Choice("Yes", "ok:h1"), Choice("No", "no:h1")))
    assert await channel(fake.base_url).send(client, message) == "1"
    [request] = fake.wait_for(1)
    assert request.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert request.json == {
        "chat_id": CHAT,
        "text": "<b>Confirm?</b>",
        "parse_mode": "HTML",
        "reply_markup": {
            "inline_keyboard": [
                [{"text": "Yes", "callback_data": "ok:h1"}],
                [{"text": "No", "callback_data": "no:h1"}],
            ]
        },
    }


async def test_send_items_as_buttons_and_a_template_as_plain_text(
    fake: FakeBotAPI, client: httpx.AsyncClient
) -> None:
    tg = channel(fake.base_url)
    items = (ListItem("sku-1", "x" * 100), ListItem("sku-2", "Mug"))
    await tg.send(client, Outbound(CHAT, "Pick one", items=items))
    await tg.send(client, Outbound(CHAT, "Hello again", template=True))
    listed, template = fake.wait_for(2)
    rows = listed.json["reply_markup"]["inline_keyboard"]
    assert [r[0]["callback_data"] for r in rows] == ["item:sku-1", "item:sku-2"]
    assert rows[0][0]["text"] == "x" * (TELEGRAM_LIMITS.item_title - 1) + "…" and rows[1][0]["text"] == "Mug"
    assert template.json == {"chat_id": CHAT, "text": "Hello again", "parse_mode": "HTML"}


async def test_send_refuses_a_payload_over_64_bytes(fake: FakeBotAPI, client: httpx.AsyncClient) -> None:
    message = Outbound(CHAT, "Pick", choices=(Choice("Too long", "é" * 33),))  # 66 bytes
    with pytest.raises(SendFailed) as failed:
        await channel(fake.base_url).send(client, message)
    assert failed.value.retry_after is None and fake.sent == []


async def test_a_429_is_retried_after_telegrams_retry_after(
    fake: FakeBotAPI, client: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 429, fixture("error_429.json"))
    with pytest.raises(SendFailed) as failed:
        await channel(fake.base_url).send(client, Outbound(CHAT, "Hi"))
    assert failed.value.retry_after == 5 and failed.value.code == "429"


async def test_a_5xx_is_retried_and_a_400_or_403_is_final(
    fake: FakeBotAPI, client: httpx.AsyncClient
) -> None:
    tg = channel(fake.base_url)
    for status, retry_after in ((502, 0.0), (400, None), (403, None)):
        fake.fail_next(1, status)
        with pytest.raises(SendFailed) as failed:
            await tg.send(client, Outbound(CHAT, "Hi"))
        assert (failed.value.retry_after, failed.value.code) == (retry_after, str(status))
    with pytest.raises(SendFailed) as not_found:
        await tg.send(client, Outbound("not-a-chat", "Hi"))  # the fake's own "chat not found"
    assert not_found.value.retry_after is None and "chat not found" in str(not_found.value)


async def test_no_answer_is_retried_and_the_token_stays_out_of_the_error(client: httpx.AsyncClient) -> None:
    with FakeBotAPI(BOT_TOKEN) as gone:
        base_url = gone.base_url  # nothing listens there once it stopped
    with pytest.raises(SendFailed) as failed:
        await channel(base_url).send(client, Outbound(CHAT, "Hi"))
    assert failed.value.retry_after == 0.0 and BOT_TOKEN not in str(failed.value)


async def test_register_webhook(fake: FakeBotAPI, client: httpx.AsyncClient) -> None:
    await channel(fake.base_url).register_webhook(client, "https://shop.example/channels/tg")
    assert (fake.webhook_url, fake.webhook_secret_token) == ("https://shop.example/channels/tg", SECRET)
    [request] = fake.wait_for(1)
    assert request.path == f"/bot{BOT_TOKEN}/setWebhook"
    assert request.json["allowed_updates"] == ["message", "callback_query"]
    bad = TelegramChannel("tg", base_url=fake.base_url, bot_token=BOT_TOKEN, secret_token="no spaces")
    with pytest.raises(SendFailed) as failed:
        await bad.register_webhook(client, "https://shop.example/channels/tg")
    assert failed.value.retry_after is None


async def test_acknowledge_answers_the_callback_query(fake: FakeBotAPI, client: httpx.AsyncClient) -> None:
    tg = channel(fake.base_url)
    [choice] = tg.parse(raw("update_callback_query.json"))
    await tg.acknowledge(client, choice)
    [request] = fake.wait_for(1)
    assert request.path == f"/bot{BOT_TOKEN}/answerCallbackQuery"
    assert request.json == {"callback_query_id": "4382bfdwdsb323b2d9"}
    [text] = tg.parse(raw("update_text.json"))
    await tg.acknowledge(client, text)  # nothing to answer
    assert len(fake.sent) == 1


async def test_acknowledge_swallows_a_failure(
    fake: FakeBotAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    tg = channel(fake.base_url)
    [choice] = tg.parse(raw("update_callback_query.json"))
    wrong = TelegramChannel("tg", base_url=fake.base_url, bot_token="123456:wrong", secret_token=SECRET)
    await wrong.acknowledge(client, choice)  # 401 Unauthorized: logged, not raised
    assert "answerCallbackQuery failed" in caplog.text


async def test_media_downloads_a_voice_note(fake: FakeBotAPI, client: httpx.AsyncClient) -> None:
    tg = channel(fake.base_url)
    [voice] = tg.parse(raw("update_voice.json"))
    fake.add_file(voice.media_id, b"OggS voice", "voice/file_0.oga")
    assert await tg.media(client, voice) == (b"OggS voice", "audio/ogg")
    get_file, download = fake.wait_for(2)
    assert get_file.path == f"/bot{BOT_TOKEN}/getFile" and get_file.json == {"file_id": voice.media_id}
    assert download.path == f"/file/bot{BOT_TOKEN}/voice/file_0.oga"


async def test_media_guesses_the_type_from_the_path_and_refuses_an_unknown_file(
    fake: FakeBotAPI, client: httpx.AsyncClient
) -> None:
    tg = channel(fake.base_url)
    fake.add_file("PHOTO", b"\xff\xd8", "photos/file_1.jpg")
    unnamed = Inbound(message_id="1", sender=CHAT, thread=CHAT, kind="image", at=0.0, media_id="PHOTO")
    assert await tg.media(client, unnamed) == (b"\xff\xd8", "image/jpeg")
    with pytest.raises(SendFailed) as failed:
        await tg.media(client, Inbound("2", CHAT, CHAT, "audio", 0.0, media_id="gone"))
    assert failed.value.retry_after is None
