"""LiteLLM against ``ponder serve``, as an ``openai/`` model: plain, streamed, tools, ``response_format``,
embeddings, and ``litellm.responses`` (skipped while the server has no Responses API)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ponder.server.embeddings import EMBEDDING_MODEL
from ponder.testing import ScriptedModel

from ..conftest import LiveServer
from .conftest import (
    ANSWER,
    DIMENSIONS,
    MODEL,
    PARIS,
    PARIS_JSON,
    SAMPLING,
    THINKING,
    THOUGHT,
    WEATHER_CALL,
    WEATHER_TOOL,
    City,
    assert_sampled_as_asked,
    schema_properties,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def litellm(monkeypatch: pytest.MonkeyPatch) -> Any:
    # Its model price list ships with it: no fetch of the online copy at import.
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.setenv("LITELLM_TELEMETRY", "False")
    import litellm

    return litellm


def _options(server: LiveServer, model: str = MODEL) -> dict[str, Any]:
    """Ponder as an OpenAI-compatible provider; no retries (none hides an error)."""
    key = server.keys["big"]
    return {"model": f"openai/{model}", "api_base": server.base_url, "api_key": key, "max_retries": 0}


def test_litellm_completion_plain_and_structured(start_server, litellm) -> None:
    server = start_server(ScriptedModel(["Paris.", PARIS_JSON]))
    options = _options(server)
    messages = [{"role": "user", "content": "Capital of France?"}]
    reply = litellm.completion(messages=messages, **options)
    assert reply.choices[0].message.content == "Paris."
    structured = litellm.completion(messages=messages, response_format=City, **options)
    assert City.model_validate_json(structured.choices[0].message.content) == PARIS
    assert schema_properties(server.model.calls[-1].settings) == {"name", "population", "landmarks"}


def test_litellm_stream_and_tools(start_server, litellm) -> None:
    server = start_server(ScriptedModel([["Par", "is."], WEATHER_CALL]))
    options = _options(server)
    messages = [{"role": "user", "content": "Capital of France?"}]
    chunks = list(litellm.completion(messages=messages, stream=True, **SAMPLING, **options))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Paris."
    assert_sampled_as_asked(server.model.calls[0].settings)
    reply = litellm.completion(messages=messages, tools=[WEATHER_TOOL], **options)
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}


def test_litellm_embedding(start_server, litellm) -> None:
    server = start_server()
    texts = ["red running shoes", "a blue wool sweater"]
    reply = litellm.embedding(input=texts, **_options(server, EMBEDDING_MODEL))
    assert [len(item["embedding"]) for item in reply.data] == [DIMENSIONS, DIMENSIONS]


def test_litellm_responses(responses_server, litellm) -> None:
    server = responses_server(ScriptedModel(["Paris."]))
    reply = litellm.responses(input="Capital of France?", **_options(server))
    texts = [c.text for item in reply.output if item.type == "message" for c in item.content]
    assert texts == ["Paris."]


def test_litellm_reads_thinking_modes_reasoning(start_server, litellm) -> None:
    server = start_server(ScriptedModel([THOUGHT, ANSWER]))
    reply = litellm.completion(messages=[{"role": "user", "content": "2+2?"}], **_options(server, THINKING))
    message = reply.choices[0].message
    assert (message.content, message.reasoning_content) == (ANSWER, THOUGHT)
