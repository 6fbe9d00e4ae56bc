"""The fake platform APIs, driven with httpx as a channel adapter would drive the real ones.

Answers are checked against the documented bodies kept in tests/channels/fixtures (same keys), so a fake
that drifts from the platform's JSON fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ponder.testing.platforms import (
    MESSENGER_QUICK_REPLIES_MAX,
    TELEGRAM_TEXT_MAX,
    WHATSAPP_TEXT_MAX,
    FakeBotAPI,
    FakeGraphAPI,
    graph_error_body,
    whatsapp_signature,
)

FIXTURES = Path(__file__).parents[1] / "channels" / "fixtures"
TOKEN = "EAAJB-test"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
PHONE_NUMBER_ID = "106540352242922"
BOT_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def whatsapp_text(body: str = "Does it come in another color?", to: str = "+16505551234") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}


def buttons(*titles: str) -> dict[str, Any]:
    return {
        "type": "button",
        "body": {"text": "Pick one"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": t, "title": t}} for t in titles]},
    }


def list_message(rows: int, title: str = "Priority Mail") -> dict[str, Any]:
    section = {"title": "Options", "rows": [{"id": f"r{i}", "title": title} for i in range(rows)]}
    return {
        "type": "list",
        "body": {"text": "Which?"},
        "action": {"button": "Options", "sections": [section]},
    }


@pytest.fixture
def graph() -> Any:
    with FakeGraphAPI(token=TOKEN) as fake, httpx.Client(base_url=fake.base_url, timeout=5) as client:
        yield fake, client


@pytest.fixture
def bot() -> Any:
    with FakeBotAPI(BOT_TOKEN) as fake, httpx.Client(base_url=fake.base_url, timeout=5) as client:
        yield fake, client


def test_whatsapp_send_answers_the_documented_body_and_is_recorded(graph: Any) -> None:
    fake, client = graph
    first = client.post(f"/v21.0/{PHONE_NUMBER_ID}/messages", headers=BEARER, json=whatsapp_text())
    second = client.post(f"/v21.0/{PHONE_NUMBER_ID}/messages", headers=BEARER, json=whatsapp_text("2"))
    assert first.status_code == 200 and second.status_code == 200
    answer = first.json()
    documented = fixture("whatsapp/send_response.json")
    assert answer.keys() == documented.keys()
    assert answer["contacts"] == [{"input": "+16505551234", "wa_id": "16505551234"}]
    assert answer["messages"][0]["id"].startswith("wamid.")
    assert answer["messages"][0]["id"] != second.json()["messages"][0]["id"]
    (one, two) = fake.sent
    assert (one.method, one.path, one.json) == ("POST", f"/v21.0/{PHONE_NUMBER_ID}/messages", whatsapp_text())
    assert one.headers["authorization"] == f"Bearer {TOKEN}" and two.json["text"]["body"] == "2"
    assert fake.wait_for(2) == fake.sent


def test_whatsapp_checks_the_token_and_the_documented_limits(graph: Any) -> None:
    fake, client = graph

    def send(body: dict[str, Any], headers: dict[str, str] = BEARER) -> httpx.Response:
        return client.post(f"/v22.0/{PHONE_NUMBER_ID}/messages", headers=headers, json=body)

    refused = send(whatsapp_text(), {"Authorization": "Bearer wrong"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == 190 and refused.json()["error"]["type"] == "OAuthException"
    bad = [
        {**whatsapp_text(), "messaging_product": "sms"},
        {**whatsapp_text(), "to": ""},
        {**whatsapp_text(), "type": "sticker", "sticker": {"id": "1"}},
        whatsapp_text("x" * (WHATSAPP_TEXT_MAX + 1)),
        {**whatsapp_text(), "type": "interactive", "interactive": buttons("a", "b", "c", "d")},
        {**whatsapp_text(), "type": "interactive", "interactive": buttons("x" * 21)},
        {**whatsapp_text(), "type": "interactive", "interactive": list_message(11)},
        {**whatsapp_text(), "type": "interactive", "interactive": list_message(1, "x" * 25)},
        {**whatsapp_text(), "type": "audio", "audio": {}},
    ]
    for body in bad:
        answer = send(body)
        assert answer.status_code == 400, body
        assert answer.json()["error"]["code"] == 100 and answer.json()["error"]["error_data"]["details"]
    good = [
        whatsapp_text("x" * WHATSAPP_TEXT_MAX),
        {**whatsapp_text(), "type": "interactive", "interactive": buttons("a", "b", "x" * 20)},
        {**whatsapp_text(), "type": "interactive", "interactive": list_message(10, "x" * 24)},
        {**whatsapp_text(), "type": "audio", "audio": {"id": "1003383421387256"}},
        {
            **whatsapp_text(),
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en"}},
        },
    ]
    for body in good:
        assert send(body).status_code == 200, body
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"}
    assert send(read).json() == {"success": True}
    assert len(fake.sent) == 1 + len(bad) + len(good) + 1


def test_graph_fail_next_answers_429_then_500_with_graph_error_bodies(graph: Any) -> None:
    fake, client = graph
    fake.fail_next(1, 429, retry_after=2)
    fake.fail_next(1, 500)
    limited = client.post(f"/v21.0/{PHONE_NUMBER_ID}/messages", headers=BEARER, json=whatsapp_text())
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    error = limited.json()["error"]
    documented = fixture("whatsapp/error_130429.json")["error"]
    assert error.keys() == documented.keys()
    assert {k: error[k] for k in ("message", "type", "code", "error_data")} == {
        k: documented[k] for k in ("message", "type", "code", "error_data")
    }
    broken = client.post(f"/v21.0/{PHONE_NUMBER_ID}/messages", headers=BEARER, json=whatsapp_text())
    assert broken.status_code == 500 and broken.json()["error"]["code"] == 2
    assert "retry-after" not in broken.headers
    assert client.post(f"/v21.0/{PHONE_NUMBER_ID}/messages", headers=BEARER, json=whatsapp_text()).is_success
    assert len(fake.sent) == 3


def test_graph_fail_next_sends_the_body_it_is_given(graph: Any) -> None:
    fake, client = graph
    outside_window = graph_error_body(131047)
    fake.fail_next(2, 400, body=outside_window)
    for _ in range(2):
        answer = client.post(f"/v21.0/{PHONE_NUMBER_ID}/messages", headers=BEARER, json=whatsapp_text())
        assert answer.status_code == 400 and answer.json() == outside_window
    assert outside_window["error"]["message"] == "(#131047) Re-engagement message"
    assert "24 hours" in outside_window["error"]["error_data"]["details"]


def test_whatsapp_media_download_takes_two_steps_with_the_token(graph: Any) -> None:
    fake, client = graph
    voice = b"OggS\x00fake voice note"
    fake.add_media("1908647269898587", voice, "audio/ogg; codecs=opus")
    info = client.get("/v21.0/1908647269898587", headers=BEARER)
    assert info.status_code == 200
    assert info.json()["id"] == "1908647269898587" and info.json()["mime_type"] == "audio/ogg; codecs=opus"
    assert info.json()["url"].startswith(fake.base_url) and info.json()["file_size"] == len(voice)
    media = client.get(info.json()["url"], headers=BEARER)
    assert media.content == voice and media.headers["content-type"].startswith("audio/ogg")
    assert client.get(info.json()["url"]).status_code == 401
    assert client.get("/v21.0/1908647269898587").status_code == 401
    assert client.get("/v21.0/404404", headers=BEARER).status_code == 400
    assert (
        client.get(f"{fake.base_url}/whatsapp_business/attachments/?mid=9", headers=BEARER).status_code == 404
    )


def test_messenger_send_api_text_quick_replies_and_sender_actions(graph: Any) -> None:
    fake, client = graph
    url = f"/v21.0/me/messages?access_token={TOKEN}"
    recipient = {"id": "1254477777772919"}
    reply = {"content_type": "text", "title": "Red", "payload": "RED"}
    sent = client.post(
        url, json={"recipient": recipient, "message": {"text": "Pick:", "quick_replies": [reply]}}
    )
    assert sent.status_code == 200
    assert sent.json().keys() == fixture("messenger/send_response.json").keys()
    assert sent.json()["recipient_id"] == "1254477777772919"
    typing = client.post(url, json={"recipient": recipient, "sender_action": "typing_on"})
    assert typing.json() == {"recipient_id": "1254477777772919"}
    bearer = client.post(
        "/v21.0/me/messages", headers=BEARER, json={"recipient": recipient, "message": {"text": "hi"}}
    )
    assert bearer.status_code == 200
    bad = [
        {"recipient": recipient, "message": {"text": "x" * 2001}},
        {
            "recipient": recipient,
            "message": {"text": "a", "quick_replies": [reply] * (MESSENGER_QUICK_REPLIES_MAX + 1)},
        },
        {"recipient": recipient, "message": {"text": "a", "quick_replies": [{**reply, "title": "x" * 21}]}},
        {"recipient": recipient, "message": {"text": "a"}, "sender_action": "typing_on"},
        {"message": {"text": "a"}},
    ]
    for body in bad:
        answer = client.post(url, json=body)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == 100, body
        assert "error_data" not in answer.json()["error"]
    wrong = client.post(
        "/v21.0/me/messages?access_token=wrong", json={"recipient": recipient, "sender_action": "mark_seen"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 190
    assert [r.query.get("access_token") for r in fake.sent[:2]] == [TOKEN, TOKEN]


def test_bot_api_send_message_with_an_inline_keyboard(bot: Any) -> None:
    fake, client = bot
    keyboard = {
        "inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]]
    }
    body = {"chat_id": 1111111, "text": "<b>Sure?</b>", "parse_mode": "HTML", "reply_markup": keyboard}
    first = client.post(f"/bot{BOT_TOKEN}/sendMessage", json=body)
    assert first.status_code == 200 and first.json()["ok"] is True
    result = first.json()["result"]
    documented = fixture("telegram/send_message_ok.json")
    assert first.json().keys() == documented.keys()
    assert documented["result"].keys() <= result.keys()
    assert result["chat"]["id"] == 1111111 and result["from"]["is_bot"] is True
    assert result["reply_markup"] == keyboard and result["message_id"] == 1
    form = {"chat_id": "1111111", "text": "again", "reply_markup": json.dumps(keyboard)}
    second = client.post(f"/bot{BOT_TOKEN}/sendmessage", data=form)  # names are case-insensitive
    assert second.json()["result"]["message_id"] == 2 and second.json()["result"]["reply_markup"] == keyboard
    assert fake.sent[1].json == form
    too_long = client.post(
        f"/bot{BOT_TOKEN}/sendMessage", json={"chat_id": 1, "text": "x" * (TELEGRAM_TEXT_MAX + 1)}
    )
    assert too_long.status_code == 400
    assert too_long.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message is too long",
    }
    big_data = {"inline_keyboard": [[{"text": "A", "callback_data": "x" * 65}]]}
    refused = client.post(
        f"/bot{BOT_TOKEN}/sendMessage", json={"chat_id": 1, "text": "a", "reply_markup": big_data}
    )
    assert refused.status_code == 400 and refused.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"
    answered = client.post(
        f"/bot{BOT_TOKEN}/answerCallbackQuery", json={"callback_query_id": "4382bfdwdsb323b2d9"}
    )
    assert answered.json() == {"ok": True, "result": True}


def test_bot_api_refuses_a_wrong_token(bot: Any) -> None:
    _, client = bot
    for path in ("/bot123456:wrong/sendMessage", "/file/bot123456:wrong/voice/file_0.oga"):
        answer = client.post(path, json={"chat_id": 1, "text": "a"}) if "send" in path else client.get(path)
        assert answer.status_code == 401
        assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_bot_api_fail_next_answers_429_then_500_for_send_methods_only(bot: Any) -> None:
    fake, client = bot
    fake.fail_next(1, 429, retry_after=5)
    fake.fail_next(1, 500)
    answered = client.post(f"/bot{BOT_TOKEN}/answerCallbackQuery", json={"callback_query_id": "q"})
    assert answered.json()["ok"] is True  # not a send call: the failures wait
    limited = client.post(f"/bot{BOT_TOKEN}/sendMessage", json={"chat_id": 1, "text": "a"})
    assert limited.status_code == 429 and limited.json() == fixture("telegram/error_429.json")
    broken = client.post(f"/bot{BOT_TOKEN}/sendMessage", json={"chat_id": 1, "text": "a"})
    assert broken.status_code == 500
    assert broken.json() == {"ok": False, "error_code": 500, "description": "Internal Server Error"}
    assert client.post(f"/bot{BOT_TOKEN}/sendMessage", json={"chat_id": 1, "text": "a"}).json()["ok"] is True


def test_bot_api_set_webhook_get_file_and_download(bot: Any) -> None:
    fake, client = bot
    hook = {"url": "https://bot.example/telegram", "secret_token": "s3cr3t_-X"}
    set_hook = client.post(f"/bot{BOT_TOKEN}/setWebhook", json=hook)
    assert set_hook.json() == {"ok": True, "result": True}
    assert (fake.webhook_url, fake.webhook_secret_token) == (hook["url"], hook["secret_token"])
    bad_secret = client.post(f"/bot{BOT_TOKEN}/setWebhook", json={**hook, "secret_token": "no spaces"})
    assert bad_secret.status_code == 400 and fake.webhook_secret_token == "s3cr3t_-X"
    fake.add_file("AwADBAADbXXXXXXXXXXXGBdhD2l6_XX", b"OggS voice", "voice/file_0.oga")
    info = client.get(f"/bot{BOT_TOKEN}/getFile", params={"file_id": "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX"})
    file = info.json()["result"]
    assert file["file_path"] == "voice/file_0.oga" and file["file_size"] == len(b"OggS voice")
    assert set(file) == {"file_id", "file_unique_id", "file_size", "file_path"}
    assert client.get(fake.file_url(file["file_path"])).content == b"OggS voice"
    assert client.get(fake.file_url("voice/missing.oga")).status_code == 404
    unknown = client.post(f"/bot{BOT_TOKEN}/getFile", json={"file_id": "nope"})
    assert unknown.status_code == 400 and unknown.json()["description"] == "Bad Request: invalid file_id"
    assert client.post(f"/bot{BOT_TOKEN}/noSuchMethod").status_code == 404


def test_delay_s_makes_a_client_time_out() -> None:
    with FakeBotAPI(BOT_TOKEN, delay_s=0.5) as fake:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{fake.base_url}/bot{BOT_TOKEN}/sendMessage", json={"chat_id": 1, "text": "a"}, timeout=0.05
            )
        assert len(fake.wait_for(1)) == 1
        with pytest.raises(TimeoutError):
            fake.wait_for(2, timeout_s=0.05)


def test_a_fake_needs_starting_and_stops_cleanly() -> None:
    fake = FakeGraphAPI(token=TOKEN)
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.base_url
    with fake:
        url = fake.base_url
        assert url.startswith("http://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/v21.0/1", timeout=1)
    with pytest.raises(ValueError):
        fake.fail_next(0, 500)


def test_whatsapp_signature_is_the_hub_signature_header_value() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    expected = "sha256=f6491327cb5b041cdf4fe69b94711c7b68bb0aef719854bae676a59788a2b6b6"
    assert whatsapp_signature("appsecret", body) == expected
    assert whatsapp_signature("other", body) != expected


def test_every_fixture_parses_and_has_its_source() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text()
    files = sorted(FIXTURES.rglob("*.json"))
    assert len(files) >= 20
    for path in files:
        json.loads(path.read_text())
        assert f"`{path.relative_to(FIXTURES)}`" in sources, path
