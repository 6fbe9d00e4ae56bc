"""A WhatsApp channel on a real ``ponder serve``, against a loopback Graph API that records what Ponder sends
(ponder.testing.platforms): the handshake, signatures, the inbox's redelivery rule, status callbacks, and a
shopping flow in the thread whose order is confirmed once by a reply button from the same sender."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.server.test_shopping_api import BUY, plan

from ponder.commerce.model import Address, Customer, PaymentMethod, Product, StoreData, Variant
from ponder.config import ChannelConfig, CommerceConfig
from ponder.memory.owner import Owner
from ponder.testing import ScriptedModel
from ponder.testing.media import render_lines, to_format, transcode
from ponder.testing.platforms import FakeGraphAPI, Recorded, whatsapp_signature

NUMBER, TOKEN, SECRET, VERIFY = "106540352242922", "graph-token", "app-secret", "verify-me"
ANN, EVE = "16505551234", "16505559999"  # two senders' wa_ids
STORE = StoreData(
    name="Coast",
    currency="EUR",
    products=(Product("umbrella", "Beach umbrella", (Variant("umb", "umbrella", {}, 2500, stock=3),)),),
    customers=(
        Customer(
            f"whatsapp:{ANN}",
            "Ann",
            addresses=(Address("home", "1 Sea Road", "Porto", "PT"),),
            payment_methods=(PaymentMethod("visa", "card", "tok_test_visa_4242", "visa", "4242"),),
        ),
    ),
)


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraphAPI]:
    for name, value in (("WA_TOKEN", TOKEN), ("WA_SECRET", SECRET), ("WA_VERIFY", VERIFY)):
        monkeypatch.setenv(name, value)
    with FakeGraphAPI(token=TOKEN) as fake:
        yield fake


def whatsapp_server(start_server: Any, graph: FakeGraphAPI, steps: list[Any], **options: Any) -> LiveServer:
    channel = ChannelConfig(
        name="wa",
        platform="whatsapp",
        account="acme",
        base_url=graph.base_url + "/v21.0",
        phone_number_id=NUMBER,
        token_env="WA_TOKEN",
        app_secret_env="WA_SECRET",
        verify_token_env="WA_VERIFY",
    )
    server: LiveServer = start_server(ScriptedModel(steps), channels=[channel], **options)
    server.app.state.ponder.shop.catalog.import_store("acme", STORE)
    return server


def update(*messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None) -> bytes:
    """A webhook body in the Cloud API's envelope (as tests/channels/fixtures/whatsapp/text.json)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": NUMBER},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Ann"}, "wa_id": messages[0]["from"]}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(envelope).encode()


def text(sender: str, message_id: str, body: str) -> dict[str, Any]:
    return {
        "from": sender,
        "id": message_id,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": body},
    }


def press(sender: str, message_id: str, payload: str, title: str) -> dict[str, Any]:
    reply = {"type": "button_reply", "button_reply": {"id": payload, "title": title}}
    return {
        "from": sender,
        "id": message_id,
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": reply,
    }


def deliver(server: LiveServer, body: bytes, *, secret: str = SECRET) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": whatsapp_signature(secret, body)}
    return httpx.post(server.url + "/channels/wa/webhook", content=body, headers=headers, timeout=10)


def sends(graph: FakeGraphAPI, count: int, timeout_s: float = 60) -> list[Recorded]:
    """The messages sent, once there are ``count`` (the fake also records media downloads)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [r for r in graph.sent if r.method == "POST"]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(found)} messages sent, not {count}")
        time.sleep(0.02)


def buttons(sent: Recorded) -> dict[str, str]:
    """A sent message's reply buttons: title -> payload."""
    action = sent.json.get("interactive", {}).get("action", {})
    return {b["reply"]["title"]: b["reply"]["id"] for b in action.get("buttons", [])}


def orders_of(server: LiveServer, user: str) -> list[Any]:
    return list(server.app.state.ponder.shop.orders.list_orders(Owner("acme", user)))


def test_the_handshake_and_signatures_guard_the_webhook(start_server: Any, graph: FakeGraphAPI) -> None:
    server = whatsapp_server(start_server, graph, [])
    url = server.url + "/channels/wa/webhook"
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "8128"}
    ok = httpx.get(url, params=query)
    assert ok.status_code == 200 and ok.text == "8128"
    assert httpx.get(url, params=query | {"hub.verify_token": "guess"}).status_code == 403
    assert httpx.get(server.url + "/channels/nope/webhook", params=query).status_code == 404
    body = update(text(ANN, "wamid.A1", "hello"))
    assert deliver(server, body, secret="forged").status_code == 403
    unsigned = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 403
    assert deliver(server, b"{not json").status_code == 400
    status = {"id": "wamid.OUT", "status": "delivered", "timestamp": "1", "recipient_id": ANN}
    answered = deliver(server, update(statuses=[status]))
    assert answered.status_code == 200 and answered.json()["taken"] == 0
    time.sleep(0.3)  # nothing was queued: give a wrong worker the chance to answer anyway
    assert graph.sent == [] and server.model.calls == []


def test_a_whole_purchase_in_the_thread_is_confirmed_once_by_the_buyers_button(
    start_server: Any, graph: FakeGraphAPI
) -> None:
    server = whatsapp_server(start_server, graph, [BUY])
    first = deliver(server, update(text(ANN, "wamid.B1", "I'll take the beach umbrella")))
    assert first.status_code == 200 and first.json()["taken"] == 1  # its latency: bench/channels.py
    reply, proposal = graph.wait_for(2, timeout_s=20)
    assert reply.json["to"] == ANN and proposal.json["type"] == "interactive"
    choices = buttons(proposal)
    assert set(choices) == {"Confirm", "Cancel"}
    [action] = server.app.state.ponder.shop.actions.list_actions(Owner("acme", f"whatsapp:{ANN}"))
    calls = json.dumps([c.messages for c in server.model.calls], default=str)
    assert choices["Confirm"].removeprefix("ok:") not in calls  # the model never saw the button
    assert "tok_" not in json.dumps(proposal.json)  # nor did the platform get the token

    redelivered = deliver(server, update(text(ANN, "wamid.B1", "I'll take the beach umbrella")))
    assert redelivered.status_code == 200 and redelivered.json()["taken"] == 0

    assert deliver(server, update(press(EVE, "wamid.E1", choices["Confirm"], "Confirm"))).status_code == 200
    assert "not for this conversation" in graph.wait_for(3, timeout_s=20)[2].json["text"]["body"]
    assert orders_of(server, f"whatsapp:{ANN}") == [] and orders_of(server, f"whatsapp:{EVE}") == []

    deliver(server, update(press(ANN, "wamid.B2", choices["Confirm"], "Confirm")))
    done = graph.wait_for(4, timeout_s=20)[3].json["text"]["body"]
    assert done.startswith("Done.")
    deliver(server, update(press(ANN, "wamid.B3", choices["Confirm"], "Confirm")))  # pressed twice
    assert "Already done" in graph.wait_for(5, timeout_s=20)[4].json["text"]["body"]
    [order] = orders_of(server, f"whatsapp:{ANN}")
    assert order["total"] == 2500 and action.id
    time.sleep(0.3)
    assert len(graph.sent) == 5  # the redelivery added no reply
    assert server.model.calls and len(server.model.calls) == 1  # presses never reach the model


def test_an_unsupported_message_gets_a_note_and_never_reaches_the_model(
    start_server: Any, graph: FakeGraphAPI
) -> None:
    server = whatsapp_server(start_server, graph, [])
    sticker = {
        "from": ANN,
        "id": "wamid.S1",
        "timestamp": "1",
        "type": "sticker",
        "sticker": {"id": "9", "mime_type": "image/webp"},
    }
    deliver(server, update(sticker))
    [note] = graph.wait_for(1, timeout_s=20)
    assert "sticker" in note.json["text"]["body"] and server.model.calls == []


def test_a_hand_off_goes_quiet_until_a_persons_reply_reaches_the_thread(
    start_server: Any, graph: FakeGraphAPI
) -> None:
    steps = [plan("person", reason="wants a person"), plan("answer"), "You're welcome, Ann."]
    server = whatsapp_server(start_server, graph, steps)
    deliver(server, update(text(ANN, "wamid.H1", "I want to talk to a person")))
    [handed] = graph.wait_for(1, timeout_s=20)
    assert "ticket" in handed.json["text"]["body"]
    key = {"Authorization": f"Bearer {server.keys['big']}"}
    [ticket] = httpx.get(server.base_url + "/support/tickets", headers=key).json()["data"]
    assert ticket["user"] == f"whatsapp:{ANN}" and ticket["session_id"] == f"wa:{ANN}"

    deliver(server, update(text(ANN, "wamid.H2", "Hello? Anyone?")))  # the assistant stays quiet
    reply = {"text": "Hi Ann, **Maria** here: your refund is on its way.", "close": True}
    answered = httpx.post(f"{server.base_url}/support/tickets/{ticket['id']}/reply", json=reply, headers=key)
    assert answered.status_code == 200, answered.text
    assert answered.json()["channel"] == "wa" and answered.json()["closed"] is True
    person = graph.wait_for(2, timeout_s=20)[1]
    assert (
        person.json["to"] == ANN
        and person.json["text"]["body"] == "Hi Ann, *Maria* here: your refund is on its way."
    )
    assert len(server.model.calls) == 1  # the message during the hand-off never reached the model

    deliver(server, update(text(ANN, "wamid.H3", "Thanks!")))  # the ticket is closed: the assistant is back
    assert graph.wait_for(3, timeout_s=20)[2].json["text"]["body"] == "You're welcome, Ann."
    assert len(server.model.calls) == 3  # its plan, then its words
    missing = httpx.post(f"{server.base_url}/support/tickets/999/reply", json={"text": "hi"}, headers=key)
    assert missing.status_code == 404


def test_search_results_come_as_a_list_of_the_stores_real_products(
    start_server: Any, graph: FakeGraphAPI
) -> None:
    server = whatsapp_server(start_server, graph, [plan("search", query="beach umbrella")])
    deliver(server, update(text(ANN, "wamid.L1", "Do you have beach umbrellas?")))
    [listed] = graph.wait_for(1, timeout_s=20)
    interactive = listed.json["interactive"]
    assert interactive["type"] == "list" and "Beach umbrella" in interactive["body"]["text"]
    [row] = interactive["action"]["sections"][0]["rows"]
    assert row["id"] == "item:umbrella" and row["title"] == "Beach umbrella" and "25.00" in row["description"]


def test_a_voice_note_is_answered_from_its_transcript(
    start_server: Any, graph: FakeGraphAPI, perception: Any, speak: Any
) -> None:
    server = whatsapp_server(
        start_server, graph, [plan("search", query="beach umbrella")], perception=perception
    )
    note = transcode(speak("I would like to buy an umbrella."), "ogg")  # as a WhatsApp voice note
    graph.add_media("media-1", note, "audio/ogg")
    voice = {"mime_type": "audio/ogg; codecs=opus", "id": "media-1", "voice": True}
    deliver(
        server, update({"from": ANN, "id": "wamid.V1", "timestamp": "1", "type": "audio", "audio": voice})
    )
    [answer] = sends(graph, 1)
    heard = json.dumps([c.messages for c in server.model.calls], default=str).lower()
    assert "umbrella" in heard  # the model read the transcript
    assert answer.json["to"] == ANN and answer.json["type"] == "interactive"


def test_an_oversized_update_is_refused_before_it_is_read(start_server: Any, graph: FakeGraphAPI) -> None:
    server = whatsapp_server(start_server, graph, [])
    huge = update(text(ANN, "wamid.O1", "x" * 400_000))
    assert deliver(server, huge).status_code == 413
    time.sleep(0.3)
    assert graph.sent == [] and server.model.calls == []


def test_a_new_sender_is_identified_by_the_stores_rules_before_any_order_is_shown(
    start_server: Any, graph: FakeGraphAPI
) -> None:
    from tests.server.test_identified_conversations import STORE as WITH_ORDERS

    server = whatsapp_server(
        start_server, graph, [plan("orders")], commerce=CommerceConfig(identify_by=["email"])
    )
    server.app.state.ponder.shop.catalog.import_store("acme", WITH_ORDERS)
    deliver(server, update(text(ANN, "wamid.I1", "Where is my order?")))
    [asked] = sends(graph, 1)
    assert "email" in asked.json["text"]["body"] and "#W100" not in asked.json["text"]["body"]


def test_a_photo_reaches_the_model_through_perception(
    start_server: Any, graph: FakeGraphAPI, perception: Any
) -> None:
    steps = [plan("answer"), "That sign says the shop is closed on Sundays."]
    server = whatsapp_server(start_server, graph, steps, perception=perception)
    photo = to_format(render_lines(["MAPLE STREET", "Closed on Sundays"], size=34), "JPEG")
    graph.add_media("media-2", photo, "image/jpeg")
    image = {"mime_type": "image/jpeg", "id": "media-2", "caption": "What does this say?"}
    deliver(
        server, update({"from": ANN, "id": "wamid.P1", "timestamp": "1", "type": "image", "image": image})
    )
    [answer] = sends(graph, 1)
    seen = json.dumps([c.messages for c in server.model.calls], default=str).lower()
    assert "maple street" in seen and "what does this say?" in seen
    assert answer.json["text"]["body"] == "That sign says the shop is closed on Sundays."
