"""The chat page at / in headless Chromium (Debian's chromium, driven by Playwright), on the scripted model.

A screenshot goes to test-artifacts/chat-page.png. Without Chromium on the machine the test is skipped, with
the command that installs it (the test script installs it where it can: scripts/test.sh).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.server.conftest import CHROMIUM, CHROMIUM_FLAGS

from ponder.modes.registry import MODE_CHOICES
from ponder.testing import ScriptedModel

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: apt-get install chromium")


def open_page(server, browser, mode: str = "instant"):
    page = browser.new_page()
    page.goto(server.url + "/")
    page.fill("#key", server.keys["big"])
    page.dispatch_event("#key", "change")
    page.select_option("#mode", mode)
    return page


def test_chat_page_streams_answers_with_reasoning_and_figures(start_server, browser) -> None:
    model = ScriptedModel([["The ", "capital ", "is ", "Paris."], "First, recall the capital.", "Paris."])
    server = start_server(model)
    page = open_page(server, browser)
    page.fill("#input", "What is the capital of France?")
    page.click("#send")
    page.wait_for_selector(".msg.assistant .stats:has-text('instant')", timeout=15_000)
    assert page.inner_text(".msg.assistant .answer") == "The capital is Paris."
    assert "first token" in page.inner_text(".msg.assistant .stats")
    # Thinking: the reasoning comes in a collapsible block, apart from the answer.
    page.select_option("#mode", "thinking")
    page.fill("#input", "And say it again?")
    page.press("#input", "Enter")
    page.wait_for_selector(".msg.assistant >> nth=1 >> .stats:has-text('thinking')", timeout=15_000)
    second = page.locator(".msg.assistant").nth(1)
    assert second.locator(".answer").inner_text() == "Paris."
    reasoning = second.locator("details.reasoning")
    assert "recall the capital" not in reasoning.inner_text()  # collapsed until opened
    reasoning.locator("summary").click()
    assert "recall the capital" in reasoning.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-page.png"), full_page=True)
    model.assert_all_used()


def test_the_mode_list_comes_from_the_server(start_server, browser) -> None:
    server = start_server(ScriptedModel())
    page = open_page(server, browser, mode="auto")
    page.wait_for_selector("#mode option[value=shopping]", state="attached", timeout=15_000)
    offered = page.eval_on_selector_all("#mode option", "options => options.map((o) => o.value)")
    assert sorted(offered) == sorted(MODE_CHOICES)  # the registry's choices, none kept in the page


def test_the_page_never_shows_the_forced_answer_prefix(start_server, browser) -> None:
    model = ScriptedModel(["First, recall the capital.", ["Ans", "wer: ", "Paris."]])
    server = start_server(model)
    page = open_page(server, browser, mode="thinking")
    page.fill("#input", "What is the capital of France?")
    page.click("#send")
    page.wait_for_selector(".msg.assistant .stats:has-text('thinking')", timeout=15_000)
    assert page.inner_text(".msg.assistant .answer") == "Paris."


def test_the_conversation_is_a_session_that_a_reload_shows_again(start_server, browser) -> None:
    model = ScriptedModel(["Hello Ann.", "Your name is Ann.", "Hi again."])
    server = start_server(model)
    page = open_page(server, browser)
    page.fill("#input", "My name is Ann.")
    page.click("#send")
    page.wait_for_selector(".msg.assistant .stats:has-text('instant')", timeout=15_000)
    page.reload()
    page.wait_for_selector(".msg.assistant .answer:has-text('Hello Ann.')", timeout=10_000)
    assert page.inner_text(".msg.user") == "My name is Ann."
    page.fill("#input", "What is my name?")
    page.click("#send")
    page.wait_for_selector(".msg.assistant >> nth=1 >> .stats:has-text('instant')", timeout=15_000)
    sent = [m.text for m in model.calls[1].messages if m.role != "system"]
    assert sent == ["My name is Ann.", "Hello Ann.", "What is my name?"]  # the server kept the first turn
    page.click("#clear")  # a new chat is a new session: nothing of the old one is sent
    page.fill("#input", "Hi.")
    page.click("#send")
    page.wait_for_selector(".msg.assistant .stats:has-text('instant')", timeout=15_000)
    assert [m.text for m in model.calls[2].messages if m.role != "system"] == ["Hi."]


def test_stop_button_cancels_the_turn_on_the_server(start_server, browser) -> None:
    server = start_server(ScriptedModel([["slow "] * 200], delay_s=0.05))
    state = server.app.state.ponder
    page = open_page(server, browser)
    page.fill("#input", "Talk slowly.")
    page.click("#send")
    page.wait_for_selector(".msg.assistant .answer:has-text('slow')", timeout=15_000)
    assert state.turns_in_flight == 1
    page.click("#stop")
    page.wait_for_selector(".msg.assistant .stats:has-text('stopped')", timeout=5_000)
    deadline = time.monotonic() + 5
    while state.turns_in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state.turns_in_flight == 0  # the server stopped generating, long before the 10 s the answer takes


def test_errors_show_in_the_page(start_server, browser) -> None:
    server = start_server()
    page = browser.new_page()
    page.goto(server.url + "/")
    page.fill("#input", "no key given")
    page.click("#send")
    page.wait_for_selector(".msg.error", timeout=10_000)
    assert "401" in page.inner_text(".msg.error")


def test_an_image_turn_shows_what_perception_read(start_server, browser, tmp_path, perception) -> None:
    """An uploaded image goes through OCR on the server; the page says so, then shows the answer."""
    from ponder.testing.media import render_lines, to_format

    server = start_server(ScriptedModel(["It is Maple Street."]), perception=perception)
    page = open_page(server, browser)
    sign = tmp_path / "sign.png"
    sign.write_bytes(to_format(render_lines(["MAPLE STREET"], size=40), "PNG"))
    page.set_input_files("#image", str(sign))
    page.wait_for_selector("#attachments:has-text('1 attachment')")
    page.fill("#input", "Which street is this?")
    page.click("#send")
    page.wait_for_selector(".msg.assistant .answer:has-text('Maple Street')", timeout=20_000)
    assert "OCR + image analysis" in page.inner_text("li.perception")
    assert "MAPLE STREET" in server.model.calls[0].messages[-1].text
    assert page.locator(".msg.user img").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-page-image.png"), full_page=True)


def test_a_spoken_question_from_the_microphone(start_server, tmp_path, perception, speak) -> None:
    """Chromium's fake microphone plays an espeak-ng question; the page records it, converts it to WAV and
    sends it; the server transcribes it, and the page shows what was heard and the answer."""
    from playwright.sync_api import sync_playwright

    question = tmp_path / "question.wav"
    question.write_bytes(speak("What is the capital of France?"))
    server = start_server(ScriptedModel(["Paris."]), perception=perception)
    with sync_playwright() as p:
        flags = [*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={question}"]
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        try:
            page = open_page(server, browser)
            page.click("#mic")
            page.wait_for_selector("#mic.recording", timeout=5_000)
            page.wait_for_timeout(3_500)
            page.click("#mic")  # stop: the recording goes out as a WAV voice turn
            page.wait_for_selector(".msg.assistant .answer:has-text('Paris.')", timeout=20_000)
            heard = page.inner_text("li.perception").lower()
            assert "heard" in heard and "capital" in heard
            assert page.locator(".msg.user audio").count() == 1
        finally:
            browser.close()


def test_shopping_shows_product_cards_and_the_confirmation_step(start_server, browser) -> None:
    from ponder.commerce.model import Address, Customer, PaymentMethod, Product, StoreData, Variant
    from ponder.memory.owner import Owner

    store = StoreData(
        name="Coast",
        currency="EUR",
        products=(
            Product("umbrella", "Beach umbrella", (Variant("umb", "umbrella", {"color": "red"}, 2500),)),
        ),
        customers=(
            Customer(
                "me",
                addresses=(Address("home", "1 Sea Road", "Porto", "PT"),),
                payment_methods=(PaymentMethod("visa", "card", "tok_test_visa", "visa", "4242"),),
            ),
        ),
    )
    model = ScriptedModel(  # the shopping turns' plans: a search, then "order it"
        ['{"intent": "search", "query": "beach umbrella"}', '{"intent": "checkout", "product": "1"}']
    )
    server = start_server(model)
    shop = server.app.state.ponder.shop
    shop.catalog.import_store("acme", store)
    page = open_page(server, browser, mode="shopping")
    page.fill("#input", "I need a beach umbrella. Which one is best?")
    page.click("#send")
    page.wait_for_selector(".product", timeout=15_000)
    assert "Beach umbrella" in page.inner_text(".product")
    page.wait_for_function("!document.querySelector('#send').disabled", timeout=15_000)
    page.fill("#input", "Great, order that one for me.")
    page.click("#send")
    page.wait_for_selector(".action .summary", timeout=15_000)
    assert "25.00 EUR" in page.inner_text(".action .summary")
    assert shop.orders.list_orders(Owner("acme", "me")) == []  # nothing bought before the click
    page.click(".action button.confirm")
    page.wait_for_selector(".action.confirmed", timeout=10_000)
    [order] = shop.orders.list_orders(Owner("acme", "me"))
    assert order["total"] == 2500 and order["id"] in page.inner_text(".action .status")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-page-shopping.png"), full_page=True)


def test_an_order_a_ucp_agent_prepared_waits_on_the_page_of_its_buyer(start_server, browser) -> None:
    """The store's own page for the buyer (?user=EMAIL) shows the agent's order with Confirm and Decline;
    the person's click places it, and the agent reads the outcome."""
    from tests.server.test_ucp import ANN, STORE, call
    from tests.server.test_ucp_agents import AS_AGENT, PROFILE, waiting_for_ann

    from ponder.memory.owner import Owner
    from ponder.store import KeyStore

    server = start_server()
    shop = server.app.state.ponder.shop
    shop.catalog.import_store("acme", STORE)
    _, agent = KeyStore(server.app.state.ponder.db).create("acme", "big", agent_profile=PROFILE)
    waiting, _, _ = waiting_for_ann(server, agent)
    page = browser.new_page()
    page.goto(f"{server.url}/?user={ANN}")
    page.fill("#key", server.keys["big"])
    page.dispatch_event("#key", "change")
    page.wait_for_selector(".action .summary", timeout=15_000)
    assert PROFILE in page.inner_text("#log") and "9 Pier Lane" in page.inner_text(".action .summary")
    assert shop.orders.list_orders(Owner("acme", ANN)) == []  # nothing bought before the click
    page.click(".action button.confirm")
    page.wait_for_selector(".action.confirmed", timeout=10_000)
    [order] = shop.orders.list_orders(Owner("acme", ANN))
    got = call(server, "GET", f"/ucp/checkout-sessions/{waiting['id']}", key=agent, agent=AS_AGENT).json()
    assert got["status"] == "completed" and got["order"]["id"] == order["id"]


def test_a_confirmation_card_shows_the_assistants_words_apart_and_as_text(start_server, browser) -> None:
    from ponder.commerce.model import Address, Customer, PaymentMethod, Product, StoreData, Variant

    store = StoreData(
        name="Coast",
        currency="EUR",
        products=(Product("umbrella", "<b>Beach</b> umbrella", (Variant("umb", "umbrella", {}, 2500),)),),
        customers=(
            Customer(
                "me",
                addresses=(Address("home", "1 Sea Road", "Porto", "PT"),),
                payment_methods=(PaymentMethod("visa", "card", "tok_test_visa", "visa", "4242"),),
            ),
        ),
    )
    reason = '<img src=x onerror="document.title=1">Nothing is cancelled'
    buy = json.dumps({"intent": "checkout", "product": "beach umbrella"})  # the shopping turn's plan
    model = ScriptedModel([buy])
    server = start_server(model)
    shop = server.app.state.ponder.shop
    shop.catalog.import_store("acme", store)
    page = open_page(server, browser, mode="shopping")
    page.fill("#input", "Buy the umbrella.")
    page.click("#send")
    page.wait_for_selector(".action .summary", timeout=15_000)
    page.click(".action button.confirm")
    page.wait_for_selector(".action.confirmed", timeout=10_000)
    order_id = page.inner_text(".action .status").split("Order ")[1].split(" ")[0]
    model.add(json.dumps({"intent": "cancel", "order": order_id, "reason": reason}))
    page.fill("#input", "Cancel it.")
    page.click("#send")
    page.wait_for_selector(".action:not(.confirmed) .note", timeout=15_000)
    card = page.locator(".action").last
    assert "25.00 EUR goes back to visa" in card.locator(".summary").inner_text()
    assert "<b>Beach</b> umbrella" in card.locator(".summary").inner_text()  # a name, shown as text
    assert "Nothing is cancelled" not in card.locator(".summary").inner_text()
    assert reason in card.locator(".note").inner_text()
    assert card.locator("img, b").count() == 0 and page.title() != "1"
    model.assert_all_used()
