"""The chat completions endpoint through the official openai client, on the scripted model."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from ponder.messages import ToolCallPart
from ponder.testing import ScriptedModel

from .conftest import LiveServer


def client(server: LiveServer, tier: str = "big") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.keys[tier], max_retries=0)


def test_non_streaming_answer_with_usage(start_server) -> None:
    server = start_server(ScriptedModel(["Paris."]))
    reply = client(server).chat.completions.create(
        model="ponder-instant", messages=[{"role": "user", "content": "Capital of France?"}]
    )
    assert reply.choices[0].message.content == "Paris."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens >= 1
    assert reply.usage.completion_tokens_details.reasoning_tokens == 0
    extra = reply.usage.model_extra or {}
    assert extra["ponder"]["mode"] == "instant"
    assert "time_to_first_token_s" in extra["ponder"]
    server.model.assert_all_used()


def test_streaming_deltas_then_done(start_server) -> None:
    server = start_server(ScriptedModel([["Hel", "lo", "!"]]))
    stream = client(server).chat.completions.create(
        model="ponder-instant",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello!"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_raw_stream_ends_with_done(start_server) -> None:
    server = start_server(ScriptedModel(["x"]))
    body = {"model": "ponder-instant", "messages": [{"role": "user", "content": "q"}], "stream": True}
    headers = {"Authorization": f"Bearer {server.keys['big']}"}
    with httpx.stream("POST", server.base_url + "/chat/completions", json=body, headers=headers) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)


def test_thinking_reasoning_comes_back_in_reasoning_content(start_server) -> None:
    server = start_server(ScriptedModel(["Two and two.", "4"]))
    reply = client(server).chat.completions.create(
        model="ponder-thinking", messages=[{"role": "user", "content": "2+2?"}], extra_body={"budget": 64}
    )
    message = reply.choices[0].message
    assert message.content == "4"
    assert "Two and two" in (message.model_extra or {})["reasoning_content"]
    assert reply.usage.completion_tokens_details.reasoning_tokens > 0


def test_client_tools_end_the_turn_with_parallel_calls(start_server) -> None:
    calls = [
        ToolCallPart("call_1", "weather", {"city": "Paris"}),
        ToolCallPart("call_2", "weather", {"city": "Rome"}),
    ]
    server = start_server(ScriptedModel([calls, "Sunny in both."]))
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    c = client(server)
    messages: list[dict] = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    reply = c.chat.completions.create(model="ponder-instant", messages=messages, tools=tools)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    made = choice.message.tool_calls or []
    assert [(t.id, t.function.name, json.loads(t.function.arguments)) for t in made] == [
        ("call_1", "weather", {"city": "Paris"}),
        ("call_2", "weather", {"city": "Rome"}),
    ]
    messages.append(choice.message.model_dump(exclude_none=True))
    messages += [{"role": "tool", "tool_call_id": t.id, "content": "sunny"} for t in made]
    final = c.chat.completions.create(model="ponder-instant", messages=messages, tools=tools)
    assert final.choices[0].message.content == "Sunny in both."
    sent = server.model.calls[-1].messages
    assert [m.role for m in sent][-3:] == ["assistant", "tool", "tool"]


def test_streamed_tool_calls(start_server) -> None:
    server = start_server(ScriptedModel([ToolCallPart("call_9", "lookup", {"q": "x"})]))
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    chunks = list(
        client(server).chat.completions.create(
            model="ponder-instant", messages=[{"role": "user", "content": "?"}], tools=tools, stream=True
        )
    )
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == "call_9" and deltas[0].function.name == "lookup"
    assert json.loads(deltas[0].function.arguments) == {"q": "x"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_contemplating_progress_chunks(start_server) -> None:
    server = start_server(ScriptedModel(default="The answer is 7."))
    body = {
        "model": "ponder-contemplating",
        "messages": [{"role": "user", "content": "What is 3 + 4?"}],
        "stream": True,
        "progress": True,
        "agents": 2,
    }
    headers = {"Authorization": f"Bearer {server.keys['big']}"}
    with httpx.stream("POST", server.base_url + "/chat/completions", json=body, headers=headers) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    progress = [e["ponder"] for e in events if e.get("ponder")]
    assert {p["type"] for p in progress} == {"agent"}
    assert {p["agent"] for p in progress} == {0, 1}
    assert any(p["status"] == "finished" for p in progress)


Q = {"role": "user", "content": "x"}


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"model": "ponder-instant", "messages": []}, 400, "messages"),
        (
            {"model": "ponder-instant", "messages": [Q], "frequency": 1},
            400,
            "frequency",
        ),
        ({"model": "nope", "messages": [Q]}, 404, "nope"),
        (
            {"model": "ponder-instant", "mode": "thinking", "messages": [Q]},
            400,
            "mode",
        ),
        (
            {"model": "ponder-contemplating", "agents": 1000, "messages": [Q]},
            400,
            "agents",
        ),
        (
            {"model": "ponder-thinking", "budget": 0, "messages": [Q]},
            400,
            "budget",
        ),
        (
            {"model": "ponder-instant", "messages": [{"role": "tool", "tool_call_id": "c1", "content": "x"}]},
            400,
            "c1",
        ),
    ],
)
def test_bad_requests_get_openai_errors(start_server, body: dict, status: int, needle: str) -> None:
    server = start_server()
    r = httpx.post(
        server.base_url + "/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {server.keys['big']}"},
    )
    assert r.status_code == status
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert needle in error["message"]


def test_malformed_json_is_400(start_server) -> None:
    server = start_server()
    r = httpx.post(
        server.base_url + "/chat/completions",
        content=b"{not json",
        headers={"Authorization": f"Bearer {server.keys['big']}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]


def test_broken_media_parts_are_refused_with_the_reason(start_server, perception) -> None:
    server = start_server(perception=perception, image_urls="off")  # remote URLs: data URIs only
    c = client(server)
    png = "data:image/png;base64,iVBORw0KGgo="  # the PNG signature and nothing else
    content = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": png}}]
    with pytest.raises(openai.BadRequestError) as info:
        c.chat.completions.create(model="ponder-instant", messages=[{"role": "user", "content": content}])
    assert "image 1" in info.value.message and info.value.code == "invalid_media"
    remote = [{"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}]
    with pytest.raises(openai.BadRequestError) as info:
        c.chat.completions.create(model="ponder-instant", messages=[{"role": "user", "content": remote}])
    assert "data URI" in info.value.message
    broken = [{"type": "input_audio", "input_audio": {"data": "***", "format": "wav"}}]
    with pytest.raises(openai.BadRequestError) as info:
        c.chat.completions.create(model="ponder-instant", messages=[{"role": "user", "content": broken}])
    assert "base64" in info.value.message


def test_a_failing_model_is_a_clean_error(start_server) -> None:
    from ponder.errors import BackendError

    server = start_server(ScriptedModel([BackendError("upstream exploded")]))
    with pytest.raises(openai.APIStatusError) as info:
        client(server).chat.completions.create(
            model="ponder-instant", messages=[{"role": "user", "content": "q"}]
        )
    assert info.value.status_code == 502
    assert "upstream exploded" in info.value.message


def test_models_lists_modes_and_the_default(start_server) -> None:
    server = start_server()
    ids = [m.id for m in client(server).models.list()]
    assert ids[:4] == ["ponder-instant", "ponder-thinking", "ponder-contemplating", "ponder-auto"]
    assert "scripted:default" in ids


def test_default_model_with_mode_field(start_server) -> None:
    server = start_server(ScriptedModel(["ok"]))
    reply = client(server).chat.completions.create(
        model="scripted:default", messages=[{"role": "user", "content": "q"}], extra_body={"mode": "instant"}
    )
    assert (reply.usage.model_extra or {})["ponder"]["mode"] == "instant"


WEATHER = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
CLOCK = {"type": "function", "function": {"name": "clock", "parameters": {"type": "object"}}}


def test_tool_choice_required_named_and_none(start_server) -> None:
    server = start_server(ScriptedModel(default=ToolCallPart("c1", "clock", {})))
    c = client(server)
    ask = [{"role": "user", "content": "hi"}]
    c.chat.completions.create(
        model="ponder-instant", messages=ask, tools=[WEATHER, CLOCK], tool_choice="required"
    )
    sent = server.model.calls[-1].settings
    assert sent.tool_choice == "required" and len(sent.tools) == 2
    named = {"type": "function", "function": {"name": "clock"}}
    c.chat.completions.create(model="ponder-instant", messages=ask, tools=[WEATHER, CLOCK], tool_choice=named)
    sent = server.model.calls[-1].settings
    assert sent.tool_choice == "required" and [t["function"]["name"] for t in sent.tools] == ["clock"]
    server.model._default = "plain"  # no call this time
    c.chat.completions.create(model="ponder-instant", messages=ask, tools=[WEATHER], tool_choice="none")
    assert server.model.calls[-1].settings.tools == ()
    with pytest.raises(openai.BadRequestError, match="not in tools"):
        missing = {"type": "function", "function": {"name": "nope"}}
        c.chat.completions.create(model="ponder-instant", messages=ask, tools=[WEATHER], tool_choice=missing)
    with pytest.raises(openai.BadRequestError, match="no tools"):
        c.chat.completions.create(model="ponder-instant", messages=ask, tool_choice="required")


def test_auto_reports_the_mode_that_ran_and_why(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"))
    reply = client(server).chat.completions.create(
        model="ponder-auto", messages=[{"role": "user", "content": "What is the capital of Peru?"}]
    )
    ponder = (reply.usage.model_extra or {})["ponder"]
    assert ponder["mode"] == "instant"
    assert ponder["router"]["mode"] == "instant" and ponder["router"]["reason"]


def test_a_client_that_leaves_cancels_a_non_streaming_turn(start_server) -> None:
    import time

    server = start_server(ScriptedModel([["word "] * 100], delay_s=0.1))  # 10 s if left to finish
    state = server.app.state.ponder
    body = {"model": "ponder-instant", "messages": [{"role": "user", "content": "q"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            server.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {server.keys['big']}"},
            timeout=0.5,
        )
    deadline = time.monotonic() + 3
    while state.turns_in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state.turns_in_flight == 0
    assert 'ponder_turns_total{mode="instant",outcome="cancelled"} 1.0' in state.metrics.render().decode()


def test_perception_is_priced_by_image_size_and_audio_length() -> None:
    from ponder.config import TierConfig
    from ponder.server.chat import perception_tokens

    tier = TierConfig()  # 20 tokens a megapixel, 2 a second of audio
    photo = {"kind": "image", "path": "ocr+analysis", "size": [7000, 7000]}  # 49 megapixels: 14 s of OCR
    clip = {"kind": "audio", "path": "asr", "duration_s": 30.0}
    assert perception_tokens(tier, [photo]) == 980
    assert perception_tokens(tier, [photo, clip]) == 980 + 60
    assert perception_tokens(tier, [{**photo, "cached": True}, {**photo, "path": "native"}]) == 0
    free = TierConfig(tokens_per_megapixel=0, tokens_per_audio_second=0)
    assert perception_tokens(free, [photo, clip]) == 0


def test_structured_output_through_the_sdks_parse(start_server) -> None:
    from pydantic import BaseModel

    class Capital(BaseModel):
        country: str
        city: str

    server = start_server(ScriptedModel(['{"country": "France", "city": "Paris"}']))
    reply = client(server).beta.chat.completions.parse(
        model="ponder-instant",
        messages=[{"role": "user", "content": "Capital of France?"}],
        response_format=Capital,
    )
    assert reply.choices[0].message.parsed == Capital(country="France", city="Paris")
    [call] = server.model.calls
    assert call.settings.json_schema is not None and call.settings.json_schema["required"] == [
        "country",
        "city",
    ]
    told = call.messages[-1].text
    assert told.startswith("Capital of France?") and '"city"' in told  # the schema is told to the model


def test_json_object_and_a_reply_that_breaks_the_schema(start_server) -> None:
    server = start_server(ScriptedModel(['{"a": 1}', "not json"]))
    body = {"model": "ponder-instant", "messages": [{"role": "user", "content": "q"}]}
    reply = client(server).chat.completions.create(**body, response_format={"type": "json_object"})
    assert json.loads(reply.choices[0].message.content or "") == {"a": 1}
    assert server.model.calls[0].settings.json_schema == {"type": "object"}
    with pytest.raises(openai.APIStatusError, match="did not give structured output: the reply is not JSON"):
        client(server).chat.completions.create(**body, response_format={"type": "json_object"})


@pytest.mark.parametrize(
    ("response_format", "needle"),
    [
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"not": {"type": "string"}}}},
            "cannot enforce this schema: 'not' at #",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 5}}},
            "Not a valid JSON schema",
        ),
        ({"type": "xml"}, "response_format"),
    ],
)
def test_a_schema_that_cannot_be_enforced_is_a_400_naming_why(start_server, response_format, needle) -> None:
    server = start_server(ScriptedModel([]))
    with pytest.raises(openai.BadRequestError, match=needle) as caught:
        client(server).chat.completions.create(
            model="ponder-instant",
            messages=[{"role": "user", "content": "q"}],
            response_format=response_format,
        )
    assert caught.value.body["param"] == "response_format"  # type: ignore[index]


def test_standard_sampling_fields_reach_the_model(start_server) -> None:
    server = start_server(ScriptedModel(["a", "b"]))
    reply = client(server).chat.completions.create(
        model="ponder-instant",
        messages=[{"role": "user", "content": "q"}],
        frequency_penalty=0.5,
        presence_penalty=-0.25,
        logit_bias={"42": -100, "7": 5},
        logprobs=True,
        top_logprobs=4,
        metadata={"ticket": "T-1"},
        store=False,
        service_tier="auto",
        extra_body={"prediction": {"type": "content", "content": "a"}},
    )
    settings = server.model.calls[0].settings
    assert (settings.frequency_penalty, settings.presence_penalty) == (0.5, -0.25)
    assert settings.logit_bias == ((42, -100.0), (7, 5.0)) and settings.logprobs == 4
    assert reply.service_tier == "default"
    assert reply.choices[0].logprobs is not None and reply.choices[0].logprobs.content is None  # none given
    plain = client(server).chat.completions.create(
        model="ponder-instant", messages=[{"role": "user", "content": "q"}]
    )
    assert plain.choices[0].logprobs is None and server.model.calls[1].settings.logprobs is None


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logit_bias": {"the": 5}}, "logit_bias"),
        ({"logit_bias": {"5": 500}}, "logit_bias"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"web_search_options": {}}, "web_search_options"),
    ],
)
def test_what_ponder_does_not_do_is_a_400_naming_the_field(start_server, extra: dict, param: str) -> None:
    server = start_server(ScriptedModel([]))
    body = {"model": "ponder-instant", "messages": [{"role": "user", "content": "q"}], **extra}
    response = httpx.post(
        server.base_url + "/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {server.keys['big']}"},
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == param


def test_several_answers_come_back_as_choices(start_server) -> None:
    server = start_server(ScriptedModel(["one", "two", "three", ["fo", "ur"], "five", "six"]))
    ask = {"model": "ponder-auto", "messages": [{"role": "user", "content": "a word?"}], "temperature": 1.0}
    reply = client(server).chat.completions.create(**ask, n=3, seed=7)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert sorted(c.message.content or "" for c in reply.choices) == ["one", "three", "two"]
    assert sorted(call.settings.seed for call in server.model.calls) == [7, 8, 9]  # one seed per answer
    assert (reply.usage.model_extra or {})["ponder"][
        "mode"
    ] == "instant"  # auto: several answers are Instant's
    chunks = list(client(server).chat.completions.create(**ask, n=3, stream=True))
    texts: dict[int, str] = {}
    finished = set()
    for c in chunks:
        for choice in c.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finished.add(choice.index)
    assert sorted(texts.values()) == ["five", "four", "six"] and finished == {0, 1, 2}


@pytest.mark.parametrize(
    "extra",
    [
        {"model": "ponder-thinking"},
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]},
        {"response_format": {"type": "json_object"}},
        {"n": 9},
    ],
)
def test_several_answers_where_they_cannot_be_sampled_is_a_400(start_server, extra: dict) -> None:
    server = start_server(ScriptedModel([]))
    body = {"model": "ponder-instant", "messages": [{"role": "user", "content": "q"}], "n": 2, **extra}
    response = httpx.post(
        server.base_url + "/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {server.keys['big']}"},
    )
    assert response.status_code == 400, response.text


def test_every_reasoning_effort_picks_a_mode_on_a_configured_model(start_server) -> None:
    server = start_server(ScriptedModel(default="Paris."))
    for effort, mode in (("none", "instant"), ("minimal", "thinking"), ("max", "thinking")):
        reply = client(server).chat.completions.create(
            model=server.settings.model,
            messages=[{"role": "user", "content": "Capital of France?"}],
            reasoning_effort=effort,  # type: ignore[arg-type]
            extra_body={"budget": None},
        )
        assert (reply.usage.model_extra or {})["ponder"]["mode"] == mode, effort
