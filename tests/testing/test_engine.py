"""The fake engine, read by Ponder's own OpenAI-compatible client: whole and streamed replies, rules, tool
calls, ``n`` choices, the delay per token, and the record of what it was sent."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from ponder.messages import Message, ResponseDone, TextDelta
from ponder.models.base import ModelSettings
from ponder.models.openai_compat import OpenAICompatibleModel
from ponder.testing.engine import EngineState, Rule, create_engine_app

TOOL = {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object", "properties": {}}}


@pytest.fixture
def state() -> EngineState:
    return EngineState(tokens=5)


@pytest.fixture
async def model(state: EngineState) -> AsyncIterator[OpenAICompatibleModel]:
    transport = httpx.ASGITransport(app=create_engine_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        yield OpenAICompatibleModel("http://engine/v1", "fake-engine", client=client)


async def test_the_default_reply_is_tokens_words_and_the_request_is_recorded(
    model: OpenAICompatibleModel, state: EngineState
) -> None:
    response = await model.request([Message.user("Hello?")], ModelSettings(routing_key="k1"))
    assert response.message.text == "word0 word1 word2 word3 word4"
    assert response.usage.completion_tokens == 5
    [recorded] = state.requests
    assert recorded["headers"]["x-session-id"] == "k1"
    assert recorded["body"]["messages"][-1] == {"role": "user", "content": "Hello?"}


async def test_the_first_matching_rule_answers_streamed_or_whole(
    model: OpenAICompatibleModel, state: EngineState
) -> None:
    state.rules = [Rule(match="peanut", text="No peanuts here."), Rule(match=".", text="Anything else.")]
    events = [e async for e in model.stream([Message.user("A peanut snack?")], ModelSettings())]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "No peanuts here."
    assert isinstance(events[-1], ResponseDone)
    assert (await model.request([Message.user("Soup?")], ModelSettings())).message.text == "Anything else."


async def test_a_rule_can_call_tools(model: OpenAICompatibleModel, state: EngineState) -> None:
    state.rules = [
        Rule(match="weather", tool_calls=[{"name": "get_weather", "arguments": {"city": "Porto"}}])
    ]
    response = await model.request([Message.user("The weather?")], ModelSettings())
    [call] = response.message.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Porto"})


async def test_each_token_takes_the_delay(model: OpenAICompatibleModel, state: EngineState) -> None:
    state.token_delay_s = 0.02
    started = time.perf_counter()
    await model.request([Message.user("Hi")], ModelSettings())
    assert time.perf_counter() - started >= 5 * 0.02


async def test_speed_rules_and_the_record_are_set_over_http(state: EngineState) -> None:
    transport = httpx.ASGITransport(app=create_engine_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        assert (await client.put("/fake/speed", json={"token_delay_s": 0.5, "tokens": 3})).status_code == 200
        assert (await client.put("/fake/rules", json=[{"match": "x", "text": "y"}])).json() == {"rules": 1}
        body = {"model": "fake-engine", "n": 2, "messages": [{"role": "user", "content": "x"}]}
        state.token_delay_s = 0.0
        answer = (await client.post("/v1/chat/completions", json=body)).json()
        assert [c["message"]["content"] for c in answer["choices"]] == ["y", "y"]
        assert len((await client.get("/fake/requests")).json()) == 1
        assert (await client.delete("/fake/requests")).json() == {"forgotten": 1}
    assert state.tokens == 3 and state.rules == [Rule(match="x", text="y")]
