"""The Responses API (``/v1/responses``) through the official openai client, on the scripted model, against a
real server on loopback."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from pydantic import BaseModel

from ponder.messages import Message, ModelResponse, TextPart, ToolCallPart, ToolResultPart, Usage
from ponder.models.base import ModelSettings
from ponder.testing import ScriptedModel

from .conftest import LiveServer

WEATHER = {
    "type": "function",
    "name": "weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}


def client(server: LiveServer, tier: str = "big") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.keys[tier], max_retries=0)


def _post(server: LiveServer, body: dict, tier: str = "big") -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.keys[tier]}"}
    return httpx.post(server.base_url + "/responses", json=body, headers=headers)


def test_create_answers_with_a_message_usage_and_instructions_as_the_system_message(start_server) -> None:
    server = start_server(ScriptedModel(["Paris."]))
    response = client(server).responses.create(
        model="ponder-instant",
        input="Capital of France?",
        instructions="Answer in one word.",
        temperature=0.3,
    )
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.error is None
    assert response.output_text == "Paris."
    [item] = response.output
    assert item.type == "message" and item.role == "assistant" and item.status == "completed"
    assert response.usage is not None and response.usage.output_tokens >= 1
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.instructions == "Answer in one word." and response.temperature == 0.3
    assert response.store is True
    [call] = server.model.calls
    assert call.messages[0].role == "system" and "Answer in one word." in call.messages[0].text
    assert call.messages[-1].role == "user" and call.messages[-1].text == "Capital of France?"
    assert call.settings.temperature == 0.3


def test_reasoning_comes_back_as_a_reasoning_item(start_server) -> None:
    server = start_server(ScriptedModel(["Two and two make four.", "4"]))
    response = client(server).responses.create(
        model="ponder-thinking", input="2+2?", reasoning={"effort": "low"}, extra_body={"budget": 64}
    )
    kinds = [item.type for item in response.output]
    assert kinds == ["reasoning", "message"]
    assert "Two and two" in response.output[0].summary[0].text
    assert response.output_text == "4"
    assert response.usage.output_tokens_details.reasoning_tokens > 0


def test_streaming_events_in_order_and_the_sdks_stream_helper(start_server) -> None:
    server = start_server(ScriptedModel([["Hel", "lo", "!"], ["Bye", "."]]))
    c = client(server)
    events = list(c.responses.create(model="ponder-instant", input="hi", stream=True))
    kinds = [e.type for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello!"
    final = events[-1].response
    assert final.output_text == "Hello!" and final.usage is not None
    assert c.responses.retrieve(final.id).output_text == "Hello!"  # a streamed response is stored too

    with c.responses.stream(model="ponder-instant", input="bye") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        done = stream.get_final_response()
    assert deltas == ["Bye", "."] and done.output_text == "Bye."


def test_streamed_reasoning_then_answer(start_server) -> None:
    server = start_server(ScriptedModel(["Two and two.", "4"]))
    with client(server).responses.stream(
        model="ponder-thinking", input="2+2?", extra_body={"budget": 64}
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds.index("response.reasoning_summary_text.delta") < kinds.index("response.output_text.delta")
    reasoning = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert "Two and two" in reasoning
    assert [i.type for i in final.output] == ["reasoning", "message"] and final.output_text == "4"


def test_function_calls_then_their_outputs_continue_the_previous_response(start_server) -> None:
    calls = [
        ToolCallPart("call_1", "weather", {"city": "Paris"}),
        ToolCallPart("call_2", "weather", {"city": "Rome"}),
    ]
    server = start_server(ScriptedModel([calls, "Sunny in both."]))
    c = client(server)
    first = c.responses.create(model="ponder-instant", input="Weather in Paris and Rome?", tools=[WEATHER])
    made = [item for item in first.output if item.type == "function_call"]
    assert [(m.call_id, m.name, json.loads(m.arguments)) for m in made] == [
        ("call_1", "weather", {"city": "Paris"}),
        ("call_2", "weather", {"city": "Rome"}),
    ]
    assert [item.type for item in first.output] == ["function_call", "function_call"]
    outputs = [{"type": "function_call_output", "call_id": m.call_id, "output": "sunny"} for m in made]
    final = c.responses.create(
        model="ponder-instant", previous_response_id=first.id, input=outputs, tools=[WEATHER]
    )
    assert final.output_text == "Sunny in both." and final.previous_response_id == first.id
    bad = {"role": "user", "content": [{"type": "input_image", "image_url": "data:text/plain;base64,eA=="}]}
    with pytest.raises(openai.BadRequestError) as info:  # named where the client put it
        c.responses.create(model="ponder-instant", previous_response_id=first.id, input=[*outputs, bad])
    assert info.value.param == "input[2].content[0]" and "input[2].content[0]" in info.value.message
    sent = server.model.calls[-1].messages
    assert [m.role for m in sent if m.role != "system"] == ["user", "assistant", "tool", "tool"]
    assert sent[-1].parts == (ToolResultPart("call_2", "weather", "sunny"),)
    assert server.model.calls[-1].messages[1].text == "Weather in Paris and Rome?"


def test_streamed_function_call_arguments(start_server) -> None:
    server = start_server(ScriptedModel([ToolCallPart("call_9", "weather", {"city": "Oslo"})]))
    with client(server).responses.stream(model="ponder-instant", input="?", tools=[WEATHER]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    assert json.loads("".join(e.delta for e in deltas)) == {"city": "Oslo"}
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(done.arguments) == {"city": "Oslo"}
    [call] = final.output
    assert call.type == "function_call" and call.call_id == "call_9" and call.name == "weather"


def test_previous_response_id_brings_the_earlier_turn_and_another_account_gets_a_404(start_server) -> None:
    server = start_server(ScriptedModel(["Nice to meet you, Ada.", "You are Ada."]))
    c = client(server)
    first = c.responses.create(model="ponder-instant", input="I am Ada.")
    second = c.responses.create(model="ponder-instant", input="Who am I?", previous_response_id=first.id)
    assert second.output_text == "You are Ada."
    texts = [(m.role, m.text) for m in server.model.calls[-1].messages if m.role != "system"]
    assert texts[:2] == [("user", "I am Ada."), ("assistant", "Nice to meet you, Ada.")]
    assert texts[-1] == ("user", "Who am I?")
    from ponder.store import KeyStore

    other = KeyStore(server.app.state.ponder.db).create("globex", "big")[1]
    stranger = openai.OpenAI(base_url=server.base_url, api_key=other, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        stranger.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        stranger.responses.create(model="ponder-instant", input="Who am I?", previous_response_id=first.id)


def test_continuing_an_earlier_response_branches_from_it(start_server) -> None:
    server = start_server(ScriptedModel(["A.", "B.", "C."]))
    c = client(server)
    first = c.responses.create(model="ponder-instant", input="one")
    c.responses.create(model="ponder-instant", input="two", previous_response_id=first.id)
    branch = c.responses.create(model="ponder-instant", input="three", previous_response_id=first.id)
    assert branch.output_text == "C."
    texts = [m.text for m in server.model.calls[-1].messages if m.role != "system"]
    assert texts == ["one", "A.", "three"]  # not "two": that was another continuation


def test_store_false_is_neither_kept_nor_continued(start_server) -> None:
    server = start_server(ScriptedModel(["A.", "B."]))
    c = client(server)
    first = c.responses.create(model="ponder-instant", input="one")
    unstored = c.responses.create(
        model="ponder-instant", input="two", store=False, previous_response_id=first.id
    )
    assert unstored.store is False
    assert [m.text for m in server.model.calls[-1].messages if m.role != "system"] == ["one", "A.", "two"]
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(unstored.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.create(model="ponder-instant", input="three", previous_response_id=unstored.id)


def test_retrieve_input_items_and_delete(start_server) -> None:
    server = start_server(ScriptedModel(["Hi."]))
    c = client(server)
    made = c.responses.create(model="ponder-instant", input="hello", metadata={"k": "v"})
    got = c.responses.retrieve(made.id)
    assert got.id == made.id and got.output_text == "Hi." and got.metadata == {"k": "v"}
    items = c.responses.input_items.list(made.id)
    [item] = items.data
    assert item.type == "message" and item.role == "user" and item.content[0].text == "hello"
    assert c.responses.delete(made.id) is None  # the SDK returns nothing for a 200
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.delete(made.id)


def test_parse_with_a_pydantic_text_format_reaches_the_settings(start_server) -> None:
    class Capital(BaseModel):
        country: str
        city: str

    server = start_server(ScriptedModel(['{"country": "France", "city": "Paris"}']))
    response = client(server).responses.parse(
        model="ponder-instant", input="Capital of France?", text_format=Capital
    )
    assert response.output_parsed == Capital(country="France", city="Paris")
    [call] = server.model.calls
    assert call.settings.json_schema is not None and call.settings.json_schema["required"] == [
        "country",
        "city",
    ]


def test_max_output_tokens_cut_is_incomplete(start_server) -> None:
    cut = ModelResponse(
        Message("assistant", (TextPart("word word word"),)), Usage(5, 3), "scripted", finish_reason="length"
    )
    server = start_server(ScriptedModel([cut, cut]))
    c = client(server)
    response = c.responses.create(model="ponder-instant", input="talk", max_output_tokens=3)
    assert server.model.calls[0].settings.max_tokens == 3
    assert response.status == "incomplete" and response.max_output_tokens == 3
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    events = list(c.responses.create(model="ponder-instant", input="talk", max_output_tokens=3, stream=True))
    assert events[-1].type == "response.incomplete" and events[-1].response.status == "incomplete"


def test_assistant_items_sent_back_and_reasoning_items_dropped(start_server) -> None:
    server = start_server(ScriptedModel(["Yes."]))
    items = [
        {"role": "user", "content": "Is it on?"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}]},
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "It is.", "annotations": [], "logprobs": []}],
        },
        {"role": "developer", "content": "Be brief."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Sure?"}]},
    ]
    client(server).responses.create(model="ponder-instant", input=items, store=False)
    sent = [(m.role, m.text) for m in server.model.calls[0].messages]
    assert ("assistant", "It is.") in sent and sent[-1] == ("user", "Sure?")
    assert not any("thinking" in text for _, text in sent)


@pytest.mark.parametrize(
    ("body", "needle", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "web_search", "tools[0]"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["v"]}]}, "file_search", "tools[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "file_id",
            None,
        ),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "item_reference", "input[0]"),
        ({"frobnicate": 1}, "frobnicate", "frobnicate"),
        (
            {"text": {"format": {"type": "json_schema", "name": "x", "schema": {"not": {}}}}},
            "'not'",
            "text.format",
        ),
        ({"background": True}, "Background", "background"),
        ({"tool_choice": {"type": "web_search_preview"}}, "web_search_preview", "tool_choice"),
        (
            {"input": [{"type": "function_call_output", "call_id": "nope", "output": "x"}]},
            "nope",
            "input[0].tool_call_id",
        ),
    ],
)
def test_unsupported_requests_are_400s_naming_what(start_server, body, needle, param) -> None:
    server = start_server(ScriptedModel())
    r = _post(server, {"model": "ponder-instant", "input": "hi", **body})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert needle in error["message"]
    if param is not None:
        assert error["param"] == param
    assert server.model.calls == []


def test_an_unknown_previous_response_is_a_404_and_no_key_a_401(start_server) -> None:
    server = start_server(ScriptedModel())
    r = _post(server, {"model": "ponder-instant", "input": "hi", "previous_response_id": "resp_nope"})
    assert r.status_code == 404 and r.json()["error"]["param"] == "previous_response_id"
    assert (
        httpx.post(server.base_url + "/responses", json={"model": "ponder-instant", "input": "x"}).status_code
        == 401
    )


def test_a_failed_turn_streams_an_error_then_response_failed(start_server) -> None:
    from ponder.errors import BackendError

    server = start_server(ScriptedModel([BackendError("the backend fell over")]))
    events = list(client(server).responses.create(model="ponder-instant", input="hi", stream=True))
    kinds = [e.type for e in events]
    assert kinds[-2:] == ["error", "response.failed"]
    assert "fell over" in events[-2].message
    assert events[-1].response.status == "failed" and events[-1].response.error is not None


def test_usage_is_charged_to_the_keys_day(start_server) -> None:
    server = start_server(ScriptedModel(["one two three four five six seven eight nine ten eleven"]))
    c = client(server, "tiny_tokens")
    c.responses.create(model="ponder-instant", input="hi")
    with pytest.raises(openai.RateLimitError):  # the day's 10 tokens are spent
        c.responses.create(model="ponder-instant", input="again")


def test_a_named_tool_choice_offers_that_tool_and_effort_picks_thinking_on_a_configured_model(
    start_server,
) -> None:
    server = start_server(
        ScriptedModel([ToolCallPart("call_1", "weather", {"city": "Oslo"}), "Cold.", "Warm."])
    )
    other = {**WEATHER, "name": "clock"}
    c = client(server)
    c.responses.create(
        model="ponder-instant",
        input="?",
        tools=[WEATHER, other],
        tool_choice={"type": "function", "name": "weather"},
    )
    settings = server.model.calls[0].settings
    assert settings.tool_choice == "required" and [t["function"]["name"] for t in settings.tools] == [
        "weather"
    ]
    thought = c.responses.create(
        model="scripted:default",
        input="Hot or cold?",
        reasoning={"effort": "high"},
        extra_body={"budget": 64},
    )
    assert (thought.usage.model_extra or {})["ponder"]["mode"] == "thinking"
    assert thought.reasoning is not None and thought.reasoning.effort == "high"


def test_the_agents_sdks_default_model_runs_a_tool_then_answers_with_its_output_type(start_server) -> None:
    agents = pytest.importorskip("agents")

    class Forecast(BaseModel):
        city: str
        sky: str

    @agents.function_tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    script = [ToolCallPart("call_1", "weather", {"city": "Paris"}), '{"city": "Paris", "sky": "sunny"}']
    server = start_server(ScriptedModel(script))
    agents.set_tracing_disabled(True)
    sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key=server.keys["big"], max_retries=0)
    model = agents.OpenAIResponsesModel(model="ponder-instant", openai_client=sdk)
    agent = agents.Agent(
        name="forecaster", instructions="Use the tool.", model=model, tools=[weather], output_type=Forecast
    )
    result = agents.Runner.run_sync(agent, "Weather in Paris?")
    assert result.final_output == Forecast(city="Paris", sky="sunny")
    last = server.model.calls[-1]
    assert last.messages[0].role == "system" and "Use the tool." in last.messages[0].text
    assert last.messages[-1].parts == (ToolResultPart("call_1", "weather", "sunny in Paris"),)
    asked = next(m for m in last.messages if m.role == "user")
    assert (
        asked.text.startswith("Weather in Paris?") and '"sky"' in asked.text
    )  # text.format reached the turn


def test_an_input_image_reaches_a_vision_model_and_a_loopback_url_is_refused(start_server) -> None:
    import base64

    from ponder.testing.media import render_lines, to_format

    png = to_format(render_lines(["HELLO"], size=24), "PNG")
    server = start_server(ScriptedModel(["It says HELLO."], vision=True))
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    content = [{"type": "input_text", "text": "What does it say?"}, {"type": "input_image", "image_url": uri}]
    c = client(server)
    response = c.responses.create(model="ponder-instant", input=[{"role": "user", "content": content}])
    assert response.output_text == "It says HELLO."
    part = server.model.calls[0].messages[-1].parts[1]
    assert (part.kind, part.data, part.media_type) == ("image", png, "image/png")
    content[1] = {"type": "input_image", "image_url": "http://127.0.0.1:9/sign.png"}  # fetched: not public
    with pytest.raises(openai.BadRequestError) as info:
        c.responses.create(model="ponder-instant", input=[{"role": "user", "content": content}])
    assert info.value.code == "invalid_image_url" and "not public" in info.value.message
    assert info.value.param == "input[0].content[1]" and "input[0].content[1]" in info.value.message
    audio = [{"type": "input_audio", "input_audio": {"data": "not base64!", "format": "wav"}}]
    with pytest.raises(openai.BadRequestError) as info:  # audio parts reach chat's translation
        c.responses.create(model="ponder-instant", input=[{"role": "user", "content": audio}])
    assert "base64" in info.value.message and info.value.param == "input[0].content[0]"
    assert len(server.model.calls) == 1


def test_a_client_that_goes_away_cancels_the_turn_and_frees_its_slot(start_server) -> None:
    import time

    server = start_server(ScriptedModel([["word "] * 100, ["word "] * 100], delay_s=0.1))  # 10 s each
    state = server.app.state.ponder
    headers = {"Authorization": f"Bearer {server.keys['big']}"}
    body = {"model": "ponder-instant", "input": "q"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.base_url + "/responses", json=body, headers=headers, timeout=0.5)
    with httpx.stream(
        "POST", server.base_url + "/responses", json=body | {"stream": True}, headers=headers
    ) as r:
        for line in r.iter_lines():
            if "response.output_text.delta" in line:
                break  # closes the stream mid-answer
    deadline = time.monotonic() + 3
    while state.turns_in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state.turns_in_flight == 0
    assert 'ponder_turns_total{mode="instant",outcome="cancelled"} 1.0' in state.metrics.render().decode()


def test_include_logprobs_brings_the_answers_log_probabilities(start_server) -> None:
    token = {"token": "Paris.", "logprob": -0.25, "bytes": list(b"Paris."), "top_logprobs": []}

    def answer(_messages: object, settings: ModelSettings) -> ModelResponse:
        details = {"logprobs": [token]} if settings.logprobs is not None else {}
        return ModelResponse(
            Message.assistant("Paris."), Usage(completion_tokens=1), "scripted", "stop", details
        )

    server = start_server(ScriptedModel(default=answer))
    ask = {"model": "ponder-instant", "input": "Capital of France?"}
    response = client(server).responses.create(
        **ask, include=["message.output_text.logprobs"], top_logprobs=2
    )
    assert server.model.calls[-1].settings.logprobs == 2
    [part] = response.output[0].content  # type: ignore[union-attr]
    assert [(t.token, t.logprob) for t in part.logprobs] == [("Paris.", -0.25)]  # type: ignore[union-attr]
    events = list(
        client(server).responses.create(**ask, include=["message.output_text.logprobs"], stream=True)
    )
    done = next(e for e in events if e.type == "response.output_text.done")
    assert [t.token for t in done.logprobs] == ["Paris."]  # type: ignore[union-attr]
    plain = client(server).responses.create(**ask)
    assert server.model.calls[-1].settings.logprobs is None
    assert plain.output[0].content[0].logprobs == []  # type: ignore[union-attr]
