"""LiteLLM against ``ponder serve``, as an ``openai/`` model: plain, streamed, tools, ``response_format``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ponder.testing import ScriptedModel

from .conftest import (
    MODEL,
    PARIS,
    PARIS_JSON,
    SAMPLING,
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


def test_litellm_completion_plain_and_structured(start_server, litellm) -> None:
    server = start_server(ScriptedModel(["Paris.", PARIS_JSON]))
    options = {"model": f"openai/{MODEL}", "api_base": server.base_url, "api_key": server.keys["big"]}
    messages = [{"role": "user", "content": "Capital of France?"}]
    reply = litellm.completion(messages=messages, **options)
    assert reply.choices[0].message.content == "Paris."
    structured = litellm.completion(messages=messages, response_format=City, **options)
    assert City.model_validate_json(structured.choices[0].message.content) == PARIS
    assert schema_properties(server.model.calls[-1].settings) == {"name", "population", "landmarks"}


def test_litellm_stream_and_tools(start_server, litellm) -> None:
    server = start_server(ScriptedModel([["Par", "is."], WEATHER_CALL]))
    options = {"model": f"openai/{MODEL}", "api_base": server.base_url, "api_key": server.keys["big"]}
    messages = [{"role": "user", "content": "Capital of France?"}]
    chunks = list(litellm.completion(messages=messages, stream=True, **SAMPLING, **options))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Paris."
    assert_sampled_as_asked(server.model.calls[0].settings)
    reply = litellm.completion(messages=messages, tools=[WEATHER_TOOL], **options)
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
