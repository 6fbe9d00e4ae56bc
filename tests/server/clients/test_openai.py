"""The official ``openai`` SDK against ``ponder serve``: chat, streaming, tools, ``parse``, every field of its
chat-completions request, embeddings, and the Responses API (skipped while the server has none).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import openai
import pytest

from ponder.server.embeddings import EMBEDDING_MODEL
from ponder.testing import ScriptedModel

from .conftest import (
    DIMENSIONS,
    MODEL,
    PARIS,
    PARIS_JSON,
    WEATHER_CALL,
    WEATHER_TOOL,
    City,
    get_weather,
    openai_client,
    schema_properties,
    tool_results,
)

pytestmark = pytest.mark.integration


def test_openai_models_list_names_the_modes_and_the_embedding_model(start_server) -> None:
    ids = [m.id for m in openai_client(start_server()).models.list()]
    assert MODEL in ids and EMBEDDING_MODEL in ids


def test_openai_chat_and_stream(start_server) -> None:
    server = start_server(ScriptedModel(["Paris.", ["Par", "is."]]))
    c = openai_client(server)
    messages = [{"role": "user", "content": "Capital of France?"}]
    reply = c.chat.completions.create(model=MODEL, messages=messages)
    assert reply.choices[0].message.content == "Paris."
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    chunks = list(
        c.chat.completions.create(
            model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "Paris."
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_openai_tool_call_round_trip(start_server) -> None:
    server = start_server(ScriptedModel([WEATHER_CALL, "Sunny."]))
    c = openai_client(server)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    reply = c.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    (call,) = reply.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    messages += [
        reply.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": get_weather("Paris")},
    ]
    final = c.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert final.choices[0].finish_reason == "stop"
    assert tool_results(server) == ["sunny in Paris"]


def test_openai_parse_with_a_pydantic_model(start_server) -> None:
    server = start_server(ScriptedModel([PARIS_JSON]))
    reply = openai_client(server).chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": "Paris?"}], response_format=City
    )
    assert reply.choices[0].message.parsed == PARIS
    assert schema_properties(server.model.calls[-1].settings) == {"name", "population", "landmarks"}


def test_openai_streamed_parse(start_server) -> None:
    server = start_server(ScriptedModel([[PARIS_JSON[:10], PARIS_JSON[10:]]]))
    with openai_client(server).chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": "Paris?"}], response_format=City
    ) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()
    assert "content.delta" in kinds and "content.done" in kinds
    assert final.choices[0].message.parsed == PARIS


def test_openai_a_schema_structured_output_cannot_enforce_is_a_400_naming_it(start_server) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "not": {"required": ["a"]}}
    with pytest.raises(openai.BadRequestError, match="'not'"):
        openai_client(start_server()).chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "?"}],
            response_format={"type": "json_schema", "json_schema": {"name": "odd", "schema": schema}},
        )


def test_openai_tool_call_while_a_response_format_is_set(start_server) -> None:
    """OpenAI holds only the final answer to a response format: a round that calls a tool is a tool call,
    not a 502 (the Agents SDK and pydantic-ai's NativeOutput send tools and a format on every request)."""
    server = start_server(ScriptedModel([WEATHER_CALL]))
    schema = {"name": "City", "schema": City.model_json_schema(), "strict": True}
    reply = openai_client(server).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Paris, and its weather?"}],
        tools=[WEATHER_TOOL],
        response_format={"type": "json_schema", "json_schema": schema},
    )
    (call,) = reply.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"


def test_openai_json_object(start_server) -> None:
    server = start_server(ScriptedModel(['{"ok": true}']))
    reply = openai_client(server).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Answer in JSON."}],
        response_format={"type": "json_object"},
    )
    assert json.loads(reply.choices[0].message.content or "") == {"ok": True}
    assert server.model.calls[-1].settings.json_schema is not None


# A value for every field of the SDK's chat-completions request, as a client would send it. Left out: the
# fields this test sends itself (model, messages), and those Ponder refuses by design with a 400 that names
# them (audio output, web search).
REFUSED_BY_DESIGN = {"model", "messages", "audio", "modalities", "web_search_options"}
UNRECOGNIZED = pytest.mark.xfail(
    strict=True, raises=openai.BadRequestError, reason="refused: 'Unrecognized request argument supplied'"
)
EVERY_FIELD = [
    pytest.param("frequency_penalty", 0.5),
    pytest.param("presence_penalty", 0.5),
    pytest.param("logit_bias", {"42": -100}),
    pytest.param("logprobs", True),
    pytest.param("max_completion_tokens", 32),
    pytest.param("max_tokens", 32),
    pytest.param("metadata", {"team": "docs"}),
    pytest.param("n", 1),
    pytest.param("parallel_tool_calls", True),
    pytest.param("prediction", {"type": "content", "content": "Paris."}),
    pytest.param("reasoning_effort", "low"),
    pytest.param("response_format", {"type": "text"}),
    pytest.param("seed", 7),
    pytest.param("service_tier", "auto"),
    pytest.param("stop", ["END"]),
    pytest.param("store", False),
    pytest.param("stream_options", None),
    pytest.param("temperature", 0.2),
    pytest.param("tool_choice", "none"),
    pytest.param("tools", [WEATHER_TOOL]),
    pytest.param("top_logprobs", None),
    pytest.param("top_p", 0.9),
    pytest.param("user", "user-1"),
    # Accepted with no effect (README: chat completions).
    pytest.param("prompt_cache_key", "docs-v1"),
    pytest.param("prompt_cache_retention", "24h"),
    pytest.param("prompt_cache_options", {"mode": "implicit"}),
    pytest.param("safety_identifier", "user-1-hash"),
    pytest.param("verbosity", "low"),
    # Refused with a 400 naming them: moderation is not run here; tools replaced the function-calling fields.
    pytest.param("moderation", {"model": "omni-moderation-latest"}, marks=UNRECOGNIZED),
    # The deprecated function-calling fields that tools replaced.
    pytest.param("functions", [WEATHER_TOOL["function"]], marks=UNRECOGNIZED),
    pytest.param("function_call", "auto", marks=UNRECOGNIZED),
]


@pytest.mark.parametrize(("field", "value"), EVERY_FIELD)
def test_openai_every_chat_completions_field_is_accepted(start_server, field: str, value: Any) -> None:
    server = start_server(ScriptedModel(["Paris."]))
    reply = openai_client(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Capital of France?"}], **{field: value}
    )
    assert reply.choices[0].message.content == "Paris."


@pytest.mark.parametrize("effort", ["none", "minimal", "xhigh", "max"])
def test_openai_every_reasoning_effort_is_accepted(start_server, effort: str) -> None:
    server = start_server(ScriptedModel(default="Paris."))
    reply = openai_client(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Capital of France?"}], reasoning_effort=effort
    )
    assert reply.choices[0].message.content == "Paris."


def test_every_field_of_the_sdk_has_a_case_above() -> None:
    """A field a newer SDK sends gets a case in ``EVERY_FIELD`` (accepted, or an xfail naming it)."""
    from openai.types.chat.completion_create_params import CompletionCreateParamsBase

    covered = {case.values[0] for case in EVERY_FIELD} | REFUSED_BY_DESIGN
    assert set(CompletionCreateParamsBase.__annotations__) - covered == set()


def test_openai_embeddings_float_and_base64(start_server) -> None:
    c = openai_client(start_server())
    texts = ["red running shoes", "a blue wool sweater"]
    floats = c.embeddings.create(model=EMBEDDING_MODEL, input=texts, encoding_format="float")
    assert [len(d.embedding) for d in floats.data] == [DIMENSIONS, DIMENSIONS]
    encoded = c.embeddings.create(model=EMBEDDING_MODEL, input=texts, encoding_format="base64")
    raw = encoded.data[0].embedding
    assert isinstance(raw, str)
    decoded = np.frombuffer(base64.b64decode(raw), "<f4")
    assert np.allclose(decoded, floats.data[0].embedding)
    # Without encoding_format the SDK asks for base64 itself and decodes it: floats come back.
    default = c.embeddings.create(model=EMBEDDING_MODEL, input=texts)
    assert np.allclose(default.data[1].embedding, floats.data[1].embedding)


def test_openai_responses_create_stream_and_retrieve(responses_server) -> None:
    server = responses_server(ScriptedModel(["Paris.", ["Par", "is."]]))
    c = openai_client(server)
    created = c.responses.create(model=MODEL, input="Capital of France?")
    assert created.output_text == "Paris."
    assert c.responses.retrieve(created.id).output_text == "Paris."
    events = list(c.responses.create(model=MODEL, input="Again?", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "Paris."


def test_openai_responses_tools_and_structured_output(responses_server) -> None:
    server = responses_server(ScriptedModel([WEATHER_CALL, PARIS_JSON]))
    c = openai_client(server)
    tool = {"type": "function", **WEATHER_TOOL["function"]}  # the Responses API's flat tool shape
    first = c.responses.create(model=MODEL, input="Weather in Paris?", tools=[tool])
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    output = {"type": "function_call_output", "call_id": call.call_id, "output": get_weather("Paris")}
    parsed = c.responses.parse(
        model=MODEL, input=[output], previous_response_id=first.id, tools=[tool], text_format=City
    )
    assert parsed.output_parsed == PARIS
    assert tool_results(server) == ["sunny in Paris"]


def test_openai_responses_streamed_parse_and_delete(responses_server) -> None:
    server = responses_server(ScriptedModel([[PARIS_JSON[:10], PARIS_JSON[10:]]]))
    c = openai_client(server)
    with c.responses.stream(model=MODEL, input="Tell me about Paris.", text_format=City) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_response()
    assert {"response.created", "response.output_text.delta", "response.completed"} <= kinds
    assert final.output_parsed == PARIS
    assert schema_properties(server.model.calls[-1].settings) == {"name", "population", "landmarks"}
    c.responses.delete(final.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(final.id)
