"""The WhatsApp Cloud API adapter on the platform's own JSON (tests/channels/fixtures/whatsapp, copied from
Meta's documentation) and against a loopback Graph API: the handshake, the signature, each message type,
statuses dropped, and sends with their errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ponder.channels.base import Choice, ListItem, Outbound, Refused, SendFailed
from ponder.channels.whatsapp import WhatsAppChannel
from ponder.testing.platforms import FakeGraphAPI, graph_error_body, whatsapp_signature

FIXTURES = Path(__file__).parent / "fixtures" / "whatsapp"
NUMBER = "106540352242922"  # the fixtures' phone number id
SECRET, TOKEN = "app-secret", "graph-token"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    with FakeGraphAPI(token=TOKEN) as fake:
        yield fake


def channel(base_url: str = "http://127.0.0.1:9", template: str = "") -> WhatsAppChannel:
    return WhatsAppChannel(
        "wa",
        base_url=base_url,
        phone_number_id=NUMBER,
        access_token=TOKEN,
        app_secret=SECRET,
        verify_token="verify-me",
        template=template,
    )


def test_the_handshake_answers_the_challenge_only_to_the_verify_token() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    assert channel().handshake(query, {}) == "1158201444"
    with pytest.raises(Refused) as refused:
        channel().handshake(query | {"hub.verify_token": "guess"}, {})
    assert refused.value.status == 403


def test_only_a_body_signed_with_the_app_secret_is_taken() -> None:
    body = fixture("text")
    channel().authenticate({"x-hub-signature-256": whatsapp_signature(SECRET, body)}, body)
    for header in (
        {},
        {"x-hub-signature-256": whatsapp_signature("other", body)},
        {"x-hub-signature-256": "x"},
    ):
        with pytest.raises(Refused) as refused:
            channel().authenticate(header, body)
        assert refused.value.status == 403
    with pytest.raises(Refused):  # the signature of another body
        channel().authenticate({"x-hub-signature-256": whatsapp_signature(SECRET, body)}, body + b" ")


def test_each_message_type_is_read_and_statuses_are_dropped() -> None:
    [text] = channel().parse(fixture("text"))
    assert (text.kind, text.sender, text.thread, text.text) == (
        "text",
        "16505551234",
        "16505551234",
        "Does it come in another color?",
    )
    assert text.message_id.startswith("wamid.") and text.at == 1749416383
    [voice] = channel().parse(fixture("audio_voice"))
    assert (voice.kind, voice.media_id, voice.mime_type) == (
        "audio",
        "1908647269898587",
        "audio/ogg; codecs=opus",
    )
    [image] = channel().parse(fixture("image"))
    assert image.kind == "image" and image.media_id
    [button] = channel().parse(fixture("interactive_button_reply"))
    assert (button.kind, button.payload, button.text) == ("choice", "change-button", "Change")
    [row] = channel().parse(fixture("interactive_list_reply"))
    assert row.kind == "choice" and row.payload
    for name in ("sticker", "location", "unsupported"):
        [odd] = channel().parse(fixture(name))
        assert odd.kind == "unsupported" and odd.what
    assert channel().parse(fixture("statuses_sent")) == []
    assert channel().parse(fixture("statuses_failed")) == []


def test_a_body_that_is_not_the_platforms_json_or_not_this_number_is_refused() -> None:
    for body in (
        b"not json",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": 3}',
    ):
        with pytest.raises(Refused) as refused:
            channel().parse(body)
        assert refused.value.status == 400
    other = fixture("text").replace(NUMBER.encode(), b"999")
    with pytest.raises(Refused, match="999"):
        channel().parse(other)


async def test_text_buttons_and_lists_go_out_as_the_cloud_api_takes_them(graph: FakeGraphAPI) -> None:
    wa = channel(graph.base_url + "/v21.0")
    async with httpx.AsyncClient() as client:
        first = await wa.send(client, Outbound("16505551234", "Hello *there*"))
        await wa.send(client, Outbound("16505551234", "Place it?", choices=(Choice("Confirm", "ok:abc"),)))
        items = (ListItem("umb", "Beach umbrella", "25.00 EUR"), ListItem("hat", "Straw hat"))
        await wa.send(client, Outbound("16505551234", "Found two", items=items))
    assert first.startswith("wamid.")
    text, buttons, listing = (r.json for r in graph.sent)
    assert text["type"] == "text" and text["text"]["body"] == "Hello *there*" and text["to"] == "16505551234"
    assert buttons["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "ok:abc", "title": "Confirm"}}
    ]
    rows = listing["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == ["item:umb", "item:hat"]
    assert all(r.path == f"/v21.0/{NUMBER}/messages" for r in graph.sent)


async def test_errors_say_whether_to_retry_and_when(graph: FakeGraphAPI) -> None:
    wa = channel(graph.base_url + "/v21.0")
    message = Outbound("16505551234", "hi")
    async with httpx.AsyncClient() as client:
        graph.fail_next(1, 400, graph_error_body(130429), retry_after=7)
        with pytest.raises(SendFailed) as limited:
            await wa.send(client, message)
        assert limited.value.retry_after == 7
        graph.fail_next(1, 500)
        with pytest.raises(SendFailed) as down:
            await wa.send(client, message)
        assert down.value.retry_after == 0.0
        graph.fail_next(1, 400, graph_error_body(131047))
        with pytest.raises(SendFailed) as closed:
            await wa.send(client, message)
        assert closed.value.outside_window and closed.value.retry_after is None
        graph.fail_next(1, 400, graph_error_body(100))
        with pytest.raises(SendFailed) as bad:
            await wa.send(client, message)
        assert bad.value.retry_after is None and not bad.value.outside_window


async def test_outside_the_window_only_the_configured_template_goes(graph: FakeGraphAPI) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(SendFailed, match="no template"):
            await channel(graph.base_url + "/v21.0").send(client, Outbound("1", "late", template=True))
        await channel(graph.base_url + "/v21.0", "back_in_touch").send(
            client, Outbound("1", "late", template=True)
        )
    [sent] = graph.sent
    assert sent.json["type"] == "template" and sent.json["template"]["name"] == "back_in_touch"


async def test_a_voice_note_is_fetched_in_two_steps_with_the_token(graph: FakeGraphAPI) -> None:
    graph.add_media("1908647269898587", b"OggS...", "audio/ogg")
    [voice] = channel().parse(fixture("audio_voice"))
    async with httpx.AsyncClient() as client:
        data, mime = await channel(graph.base_url + "/v21.0").media(client, voice)
    assert (data, mime) == (b"OggS...", "audio/ogg")
    assert json.loads(fixture("audio_voice"))["object"] == "whatsapp_business_account"
