"""The Messenger adapter against the documented webhook bodies (tests/channels/fixtures/messenger) and the
loopback fake of the Send API (ponder.testing.platforms.FakeGraphAPI)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ponder.channels.base import Choice, Inbound, ListItem, Outbound, Refused, SendFailed
from ponder.channels.messenger import MESSENGER_LIMITS, MessengerChannel
from ponder.testing.platforms import FakeGraphAPI, graph_error_body, whatsapp_signature

FIXTURES = Path(__file__).parent / "fixtures" / "messenger"
TOKEN = "EAAJB-page-token"
APP_SECRET = "app-secret"
VERIFY_TOKEN = "verify-me"
PSID = "1254477777772919"
MID = "mid.1457764197618:41d102a3e1ae206a38"
AT = 1458692752.478  # the fixtures' timestamp, 1458692752478 ms


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def channel(base_url: str = "https://graph.facebook.com/v21.0") -> MessengerChannel:
    return MessengerChannel(
        "page", base_url=base_url, page_access_token=TOKEN, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN
    )


def with_event(**event: Any) -> bytes:
    """The text fixture's envelope around one messaging event from PSID (``timestamp`` as documented)."""
    update = fixture("message_text.json")
    update["entry"][0]["messaging"] = [
        {"sender": {"id": PSID}, "recipient": {"id": "682498302938465"}, "timestamp": 1458692752478} | event
    ]
    return json.dumps(update).encode()


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    with FakeGraphAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


# --- the webhook -------------------------------------------------------------------------------------------


def test_handshake_answers_the_challenge_only_for_the_verify_token() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    assert channel().handshake(query, {}) == "1158201444"
    for wrong in ({"hub.verify_token": "guess"}, {"hub.mode": "unsubscribe"}, {"hub.verify_token": ""}):
        with pytest.raises(Refused) as refused:
            channel().handshake(query | wrong, {})
        assert refused.value.status == 403


def test_authenticate_checks_the_hub_signature_on_the_raw_body() -> None:
    body = (FIXTURES / "message_text.json").read_bytes()
    channel().authenticate({"x-hub-signature-256": whatsapp_signature(APP_SECRET, body)}, body)
    for headers in (
        {"x-hub-signature-256": whatsapp_signature("another secret", body)},
        {"x-hub-signature-256": whatsapp_signature(APP_SECRET, body + b" ")},
        {},
    ):
        with pytest.raises(Refused) as refused:
            channel().authenticate(headers, body)
        assert refused.value.status == 403


def test_parse_a_text_message() -> None:
    assert channel().parse((FIXTURES / "message_text.json").read_bytes()) == [
        Inbound(message_id=MID, sender=PSID, thread=PSID, kind="text", at=AT, text="hello, world!")
    ]


def test_parse_a_quick_reply_as_a_choice_with_its_title() -> None:
    [inbound] = channel().parse((FIXTURES / "message_quick_reply.json").read_bytes())
    assert (inbound.kind, inbound.payload, inbound.text) == (
        "choice",
        "DEVELOPER_DEFINED_PAYLOAD",
        "hello, world!",
    )
    assert (inbound.message_id, inbound.sender, inbound.thread, inbound.at) == (MID, PSID, PSID, AT)


def test_parse_a_postback_as_a_choice() -> None:
    assert channel().parse((FIXTURES / "postback.json").read_bytes()) == [
        Inbound(
            message_id="m_1457764197618:41d102a3e1ae206a38",
            sender=PSID,
            thread=PSID,
            kind="choice",
            at=AT,
            text="TITLE-FOR-THE-CTA",
            payload="USER-DEFINED-PAYLOAD",
        )
    ]
    [no_mid] = channel().parse(with_event(postback={"title": "Get Started", "payload": "GET_STARTED"}))
    assert no_mid.message_id == f"postback:{PSID}:1458692752478"


def test_parse_audio_and_image_attachments_by_their_url() -> None:
    audio = "https://cdn.fbsbx.com/v/t59.3654-21/audioclip.mp4?oe=5F2A"
    photos = [f"https://scontent.xx.fbcdn.net/v/t1.15752-9/{n}.jpg?oe=5F2A" for n in range(2)]
    [voice] = channel().parse(
        with_event(message={"mid": MID, "attachments": [{"type": "audio", "payload": {"url": audio}}]})
    )
    assert (voice.kind, voice.media_id, voice.message_id, voice.text) == ("audio", audio, MID, "")
    attachments = [{"type": "image", "payload": {"url": url}} for url in photos]
    images = channel().parse(with_event(message={"mid": MID, "attachments": attachments}))
    assert [(i.kind, i.media_id, i.message_id) for i in images] == [
        ("image", photos[0], MID),
        ("image", photos[1], f"{MID}:1"),
    ]


@pytest.mark.parametrize(
    ("attachments", "what"),
    [
        ([{"type": "video", "payload": {"url": "https://video.xx.fbcdn.net/v.mp4"}}], "video"),
        ([{"type": "file", "payload": {"url": "https://cdn.fbsbx.com/v/order.pdf"}}], "file"),
        ([{"type": "location", "payload": {"coordinates": {"lat": 52.52, "long": 13.4}}}], "location"),
        ([{"type": "fallback"}], "fallback"),
        (
            [{"type": "image", "payload": {"url": "https://x/like.png", "sticker_id": 369239263222822}}],
            "sticker",
        ),
        (
            [
                {"type": "sticker", "payload": {"url": "https://x/s.png", "sticker_id": 369239263222822}},
                {"type": "image", "payload": {"url": "https://x/s.png", "sticker_id": 369239263222822}},
            ],
            "sticker",
        ),
        ([], "message"),
    ],
)
def test_parse_other_attachments_as_unsupported(attachments: list[dict[str, Any]], what: str) -> None:
    [inbound] = channel().parse(with_event(message={"mid": MID, "attachments": attachments}))
    assert (inbound.kind, inbound.what, inbound.message_id) == ("unsupported", what, MID)


def test_echoes_deliveries_reads_and_reactions_are_not_messages() -> None:
    echo = {"mid": MID, "is_echo": True, "app_id": 1517776481860111, "text": "hello, world!"}
    assert channel().parse(with_event(message=echo)) == []
    assert channel().parse(with_event(delivery={"mids": [MID], "watermark": 1458668856253})) == []
    assert channel().parse(with_event(read={"watermark": 1458668856253})) == []
    assert channel().parse(with_event(reaction={"mid": MID, "action": "react", "emoji": "\u2764"})) == []
    guest = json.loads(with_event(message={"mid": MID, "text": "hi"}))
    guest["entry"][0]["messaging"][0]["sender"] = {"user_ref": "plugin-guest"}
    assert channel().parse(json.dumps(guest).encode()) == []


def test_parse_refuses_what_is_not_a_page_update() -> None:
    instagram = fixture("message_text.json") | {"object": "instagram"}
    no_mid = fixture("message_text.json")
    del no_mid["entry"][0]["messaging"][0]["message"]["mid"]
    no_sender = copy.deepcopy(no_mid)
    no_sender["entry"][0]["messaging"][0] = {"timestamp": 1, "message": {"mid": MID, "text": "hi"}}
    for body in (b"not json", b"[]", instagram, no_mid, no_sender, {"object": "page", "entry": ["x"]}):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        with pytest.raises(Refused) as refused:
            channel().parse(raw)
        assert refused.value.status == 400


# --- sending -----------------------------------------------------------------------------------------------


async def test_send_text_with_quick_replies(graph: FakeGraphAPI, client: httpx.AsyncClient) -> None:
    choices = (Choice("Red", "color:red"), Choice("A title longer than twenty", "color:long"))
    sent = await channel(f"{graph.base_url}/v21.0").send(client, Outbound(PSID, "Pick a color:", choices))
    [request] = graph.wait_for(1)
    assert sent.startswith("m_")
    assert (request.method, request.path) == ("POST", "/v21.0/me/messages")
    assert request.headers["authorization"] == f"Bearer {TOKEN}" and "access_token" not in request.query
    assert request.json == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {
            "text": "Pick a color:",
            "quick_replies": [
                {"content_type": "text", "title": "Red", "payload": "color:red"},
                {"content_type": "text", "title": "A title longer than ", "payload": "color:long"},
            ],
        },
    }


async def test_send_items_as_quick_replies_and_plain_text(
    graph: FakeGraphAPI, client: httpx.AsyncClient
) -> None:
    items = tuple(ListItem(f"sku-{n}", f"Product {n}", "a description") for n in range(15))
    page = channel(f"{graph.base_url}/v21.0")
    await page.send(client, Outbound(PSID, "Which one?", items=items, choices=(Choice("No", "no"),)))
    await page.send(client, Outbound(PSID, "Thanks!"))
    listed, plain = graph.wait_for(2)
    replies = listed.json["message"]["quick_replies"]
    assert len(replies) == MESSENGER_LIMITS.items == 13
    assert replies[0] == {"content_type": "text", "title": "Product 0", "payload": "item:sku-0"}
    assert plain.json["message"] == {"text": "Thanks!"}


async def test_rate_limits_and_server_errors_are_retried(
    graph: FakeGraphAPI, client: httpx.AsyncClient
) -> None:
    page = channel(f"{graph.base_url}/v21.0")
    graph.fail_next(
        1, 400, graph_error_body(613, "Calls to this api have exceeded the rate limit.", whatsapp=False), 7
    )
    graph.fail_next(1, 403, graph_error_body(4, "Application request limit reached", whatsapp=False))
    graph.fail_next(1, 500)
    failures = []
    for _ in range(3):
        with pytest.raises(SendFailed) as failed:
            await page.send(client, Outbound(PSID, "hello"))
        failures.append(failed.value)
    assert [(f.retry_after, f.outside_window, f.code) for f in failures] == [
        (7.0, False, "613"),
        (0.0, False, "4"),
        (0.0, False, "2"),
    ]
    assert "exceeded the rate limit" in str(failures[0])
    assert len(graph.wait_for(3)) == 3


async def test_outside_the_window_is_reported(graph: FakeGraphAPI, client: httpx.AsyncClient) -> None:
    error = {
        "message": "(#10) This message is sent outside of allowed window.",
        "type": "OAuthException",
        "code": 10,
        "error_subcode": 2018278,
        "fbtrace_id": "AbCdEf",
    }
    graph.fail_next(1, 400, {"error": error})
    with pytest.raises(SendFailed) as failed:
        await channel(f"{graph.base_url}/v21.0").send(client, Outbound(PSID, "Still there?"))
    assert (failed.value.retry_after, failed.value.outside_window, failed.value.code) == (
        None,
        True,
        "10/2018278",
    )


async def test_a_template_is_not_sent(graph: FakeGraphAPI, client: httpx.AsyncClient) -> None:
    with pytest.raises(SendFailed) as failed:
        await channel(f"{graph.base_url}/v21.0").send(client, Outbound(PSID, "Hello again", template=True))
    assert (failed.value.retry_after, failed.value.outside_window) == (None, True)
    assert graph.sent == []


async def test_other_errors_are_final(graph: FakeGraphAPI, client: httpx.AsyncClient) -> None:
    too_long = Outbound(PSID, "x" * (MESSENGER_LIMITS.text + 1))  # the fake refuses it as the API does: 100
    with pytest.raises(SendFailed) as invalid:
        await channel(f"{graph.base_url}/v21.0").send(client, too_long)
    wrong_token = MessengerChannel(
        "page",
        base_url=f"{graph.base_url}/v21.0",
        page_access_token="expired",
        app_secret="s",
        verify_token="v",
    )
    with pytest.raises(SendFailed) as unauthorized:
        await wrong_token.send(client, Outbound(PSID, "hello"))
    assert [(f.value.retry_after, f.value.outside_window, f.value.code) for f in (invalid, unauthorized)] == [
        (None, False, "100"),
        (None, False, "190"),
    ]


async def test_no_answer_is_retried() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as unreachable:
        with pytest.raises(SendFailed) as failed:
            await channel().send(unreachable, Outbound(PSID, "hello"))
    assert failed.value.retry_after == 0.0


async def test_acknowledge_calls_nothing() -> None:
    def unexpected(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"acknowledge called {request.url}")

    inbound = Inbound(message_id=MID, sender=PSID, thread=PSID, kind="choice", at=AT, payload="p")
    async with httpx.AsyncClient(transport=httpx.MockTransport(unexpected)) as offline:
        await channel().acknowledge(offline, inbound)


# --- media -------------------------------------------------------------------------------------------------


def attachment(url: str) -> Inbound:
    return Inbound(message_id=MID, sender=PSID, thread=PSID, kind="audio", at=AT, media_id=url)


async def test_media_downloads_the_attachment_url(graph: FakeGraphAPI, client: httpx.AsyncClient) -> None:
    graph.add_media("voice-1", b"\x00\x00\x00\x18ftypM4A ", "audio/mp4")
    page = channel(f"{graph.base_url}/v21.0")
    assert await page.media(client, attachment(graph.media_url("voice-1"))) == (
        b"\x00\x00\x00\x18ftypM4A ",
        "audio/mp4",
    )
    [request] = graph.wait_for(1)
    assert request.method == "GET" and request.query["mid"] == "voice-1"
    with pytest.raises(SendFailed) as expired:
        await page.media(client, attachment(graph.media_url("gone")))
    assert expired.value.retry_after is None


async def test_media_never_sends_the_page_token_to_the_cdn() -> None:
    seen: list[httpx.Request] = []

    def cdn(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\xff\xd8\xff", headers={"Content-Type": "image/jpeg"})

    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/photo.jpg?_nc_cat=1&oh=00_Ab&oe=5F2A"
    async with httpx.AsyncClient(transport=httpx.MockTransport(cdn)) as fake_cdn:
        assert await channel().media(fake_cdn, attachment(url)) == (b"\xff\xd8\xff", "image/jpeg")
    assert [str(r.url) for r in seen] == [url]
    assert "authorization" not in seen[0].headers and TOKEN not in str(seen[0].url)
