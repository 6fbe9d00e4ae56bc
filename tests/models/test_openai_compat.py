"""OpenAICompatibleModel against a real local server (FastAPI + uvicorn) and against httpx.MockTransport.

The local server speaks just enough of the chat-completions protocol: JSON and SSE answers, tool calls
streamed in fragments, a usage chunk, OpenAI-shaped 401s and 404s. What it answers depends on the model
name asked for, never on the prompt.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ponder.errors import BackendConnectionError, BackendError, UnknownModelError, UserError
from ponder.messages import (
    AudioPart,
    Event,
    ImagePart,
    Message,
    ReasoningDelta,
    ReasoningPart,
    ResponseDone,
    TextDelta,
    TextPart,
    ToolCallEvent,
    ToolCallPart,
    ToolResultPart,
)
from ponder.models.base import ModelSettings
from ponder.models.openai_compat import OpenAICompatibleModel

API_KEY = "test-key"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

# --- the local server ----------------------------------------------------------------------------------


@dataclass
class FakeServer:
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)  # {"headers": {...}, "body": {...}}
    disconnected: threading.Event = field(default_factory=threading.Event)  # a slow stream was abandoned


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return f"data: {json.dumps({'id': 'c1', 'object': 'chat.completion.chunk', 'choices': [choice]})}\n\n"


def _usage_chunk(prompt: int, completion: int) -> str:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    return f"data: {json.dumps({'id': 'c1', 'choices': [], 'usage': usage})}\n\n"


def _tool_fragment(index: int, *, call_id: str | None = None, name: str | None = None, args: str = "") -> str:
    fragment: dict[str, Any] = {"index": index, "function": {"arguments": args}}
    if call_id:
        fragment["id"], fragment["type"] = call_id, "function"
        fragment["function"]["name"] = name
    return _chunk({"tool_calls": [fragment]})


ECHO_STREAM = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"reasoning_content": "Think"}),
    _chunk({"reasoning_content": "ing."}),
    _chunk({"content": "Hel"}),
    _chunk({"content": "lo"}),
    _chunk({"content": " there!"}),
    _chunk({}, finish="stop"),
    _usage_chunk(11, 5),
    "data: [DONE]\n\n",
]
TOOL_STREAM = [  # two parallel calls, their fragments interleaved
    _chunk({"role": "assistant", "content": None}),
    _tool_fragment(0, call_id="call_a", name="get_weather", args=""),
    _tool_fragment(0, args='{"city": '),
    _tool_fragment(1, call_id="call_b", name="add", args='{"a": 1,'),
    _tool_fragment(0, args='"Paris"}'),
    _tool_fragment(1, args=' "b": 2}'),
    _chunk({}, finish="tool_calls"),
    _usage_chunk(20, 9),
    "data: [DONE]\n\n",
]
ECHO_REPLY = {
    "id": "r1",
    "object": "chat.completion",
    "model": "echo-model",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there!", "reasoning_content": "Thinking."},
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 11,
        "completion_tokens": 4,
        "total_tokens": 15,
        "completion_tokens_details": {"reasoning_tokens": 1},
    },
}


def _create_app(state: FakeServer) -> FastAPI:
    app = FastAPI()

    async def slow_stream() -> AsyncIterator[str]:
        finished = False
        try:
            for i in range(2000):
                yield _chunk({"content": f"{i} "})
                await asyncio.sleep(0.005)
            finished = True
            yield "data: [DONE]\n\n"
        finally:
            if not finished:
                state.disconnected.set()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        body = await request.json()
        state.requests.append({"headers": dict(request.headers), "body": body})
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            error = {"message": "Incorrect API key provided.", "type": "invalid_request_error"}
            return JSONResponse({"error": {**error, "code": "invalid_api_key"}}, status_code=401)
        streams: dict[str, Callable[[], Iterator[str] | AsyncIterator[str]]] = {
            "echo-model": lambda: iter(ECHO_STREAM),
            "tool-model": lambda: iter(TOOL_STREAM),
            "slow-model": slow_stream,
        }
        if body["model"] not in streams:
            error = {"message": f"The model `{body['model']}` does not exist.", "type": "NotFoundError"}
            return JSONResponse({"error": {**error, "code": 404}}, status_code=404)
        if body.get("stream"):
            return StreamingResponse(streams[body["model"]](), media_type="text/event-stream")
        return JSONResponse(ECHO_REPLY)

    return app


class _Server(uvicorn.Server):
    """uvicorn that says when it is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    state = FakeServer()
    config = uvicorn.Config(_create_app(state), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    config.timeout_graceful_shutdown = 2
    uv = _Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    if not uv.ready.wait(timeout=10) or not uv.started:
        raise RuntimeError("the test server did not start within 10 s")
    port = uv.servers[0].sockets[0].getsockname()[1]
    state.base_url = f"http://127.0.0.1:{port}/v1"
    yield state
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
async def connect(server: FakeServer) -> AsyncIterator[Callable[..., OpenAICompatibleModel]]:
    """Make models pointed at the local server; every one is closed after the test."""
    made: list[OpenAICompatibleModel] = []

    def make(model: str = "echo-model", api_key: str | None = API_KEY) -> OpenAICompatibleModel:
        made.append(OpenAICompatibleModel(server.base_url, model, api_key=api_key, timeout_s=10))
        return made[-1]

    yield make
    for model in made:
        await model.aclose()


async def _collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


HELLO = [Message.system("Be brief."), Message.user("Hi")]


# --- against the local server -------------------------------------------------------------------------


async def test_request_returns_text_reasoning_and_usage(
    connect: Callable[..., OpenAICompatibleModel],
) -> None:
    response = await connect().request(HELLO, ModelSettings())

    assert response.message.role == "assistant"
    assert response.message.text == "Hello there!"
    assert response.message.reasoning == "Thinking."
    assert response.finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 4)
    assert response.usage.reasoning_tokens == 1
    assert response.usage.total_time_s > 0
    assert response.model.startswith("openai:http://127.0.0.1:")


async def test_stream_yields_deltas_in_order_then_usage(
    connect: Callable[..., OpenAICompatibleModel],
) -> None:
    events = await _collect(connect().stream(HELLO, ModelSettings()))

    assert [e for e in events if isinstance(e, ReasoningDelta)] == [
        ReasoningDelta("Think"),
        ReasoningDelta("ing."),
    ]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo", " there!"]
    assert isinstance(events[-1], ResponseDone)
    response = events[-1].response
    assert response.message.text == "Hello there!"
    assert response.message.reasoning == "Thinking."
    assert response.finish_reason == "stop"
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 5)
    assert usage.time_to_first_token_s is not None and usage.time_to_first_token_s > 0
    assert 0 <= usage.decode_time_s <= usage.total_time_s


async def test_stream_assembles_tool_call_fragments(connect: Callable[..., OpenAICompatibleModel]) -> None:
    events = await _collect(connect("tool-model").stream(HELLO, ModelSettings(tools=(WEATHER_TOOL,))))

    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [
        ToolCallPart("call_a", "get_weather", {"city": "Paris"}),
        ToolCallPart("call_b", "add", {"a": 1, "b": 2}),
    ]
    assert not [e for e in events if isinstance(e, TextDelta)]
    done = events[-1]
    assert isinstance(done, ResponseDone)
    assert done.response.finish_reason == "tool_calls"
    assert done.response.message.tool_calls == calls
    assert (done.response.usage.prompt_tokens, done.response.usage.completion_tokens) == (20, 9)


async def test_settings_and_api_key_reach_the_server(
    server: FakeServer, connect: Callable[..., OpenAICompatibleModel]
) -> None:
    settings = ModelSettings(
        max_tokens=7, temperature=0.1, top_p=0.5, seed=42, stop=("END",), tools=(WEATHER_TOOL,)
    )
    await connect().request(HELLO, settings)

    sent = server.requests[-1]
    assert sent["headers"]["authorization"] == f"Bearer {API_KEY}"
    body = sent["body"]
    assert body["model"] == "echo-model"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (7, 0.1, 0.5, 42)
    assert body["stop"] == ["END"]
    assert body["tools"] == [WEATHER_TOOL]
    assert "stream" not in body


@pytest.mark.parametrize("streaming", [False, True])
async def test_a_conversations_routing_key_reaches_the_engine_as_a_header(
    server: FakeServer, connect: Callable[..., OpenAICompatibleModel], streaming: bool
) -> None:
    settings = ModelSettings(routing_key="3f2a" * 8)
    model = connect()
    if streaming:
        await _collect(model.stream(HELLO, settings))
    else:
        await model.request(HELLO, settings)
    assert server.requests[-1]["headers"]["x-session-id"] == "3f2a" * 8
    await model.request(HELLO, ModelSettings())  # no session: no key
    assert "x-session-id" not in server.requests[-1]["headers"]
    assert "routing_key" not in server.requests[-1]["body"]


async def test_unset_settings_are_left_out_and_stream_asks_for_usage(
    server: FakeServer, connect: Callable[..., OpenAICompatibleModel]
) -> None:
    await _collect(connect().stream(HELLO, ModelSettings()))

    body = server.requests[-1]["body"]
    assert not {"seed", "stop", "tools"} & body.keys()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("api_key", [None, "wrong-key"])
@pytest.mark.parametrize("streaming", [False, True])
async def test_refused_key_is_a_backend_error_about_the_key(
    server: FakeServer, connect: Callable[..., OpenAICompatibleModel], api_key: str | None, streaming: bool
) -> None:
    model = connect(api_key=api_key)
    with pytest.raises(BackendError) as caught:
        if streaming:
            await _collect(model.stream(HELLO, ModelSettings()))
        else:
            await model.request(HELLO, ModelSettings())

    assert caught.value.status_code == 401
    assert "API key" in str(caught.value)
    assert "Incorrect API key provided." in str(caught.value)
    sent_auth = server.requests[-1]["headers"].get("authorization")
    assert sent_auth == (None if api_key is None else f"Bearer {api_key}")


@pytest.mark.parametrize("streaming", [False, True])
async def test_unknown_model_is_a_404_backend_error(
    connect: Callable[..., OpenAICompatibleModel], streaming: bool
) -> None:
    model = connect("no-such-model")
    with pytest.raises(BackendError) as caught:
        if streaming:
            await _collect(model.stream(HELLO, ModelSettings()))
        else:
            await model.request(HELLO, ModelSettings())

    assert caught.value.status_code == 404
    message = str(caught.value)
    assert "no-such-model" in message and "model name" in message and "/models" in message
    assert "does not exist" in message  # the server's own words


@pytest.mark.parametrize("streaming", [False, True])
async def test_server_not_listening_is_a_connection_error(streaming: bool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OpenAICompatibleModel(f"http://127.0.0.1:{port}/v1", "any", timeout_s=5)
    try:
        with pytest.raises(BackendConnectionError) as caught:
            if streaming:
                await _collect(model.stream(HELLO, ModelSettings()))
            else:
                await model.request(HELLO, ModelSettings())
    finally:
        await model.aclose()

    assert f"Cannot reach the OpenAI-compatible server at http://127.0.0.1:{port}/v1" in str(caught.value)
    assert "is it running?" in str(caught.value)


async def test_closing_a_stream_early_closes_the_connection(
    server: FakeServer, connect: Callable[..., OpenAICompatibleModel]
) -> None:
    server.disconnected.clear()
    stream = cast(AsyncGenerator[Event, None], connect("slow-model").stream(HELLO, ModelSettings()))
    seen = [await anext(stream), await anext(stream)]
    await stream.aclose()

    assert [e.text for e in seen if isinstance(e, TextDelta)] == ["0 ", "1 "]
    assert await asyncio.to_thread(server.disconnected.wait, 5), "the server never saw the client leave"


async def test_cancelling_the_consumer_closes_the_connection(
    server: FakeServer, connect: Callable[..., OpenAICompatibleModel]
) -> None:
    server.disconnected.clear()
    first_delta = asyncio.Event()

    async def consume() -> None:
        async for _ in connect("slow-model").stream(HELLO, ModelSettings()):
            first_delta.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_delta.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await asyncio.to_thread(server.disconnected.wait, 5), "the server never saw the client leave"


# --- against httpx.MockTransport ----------------------------------------------------------------------


def _mock(handler: Callable[[httpx.Request], httpx.Response]) -> OpenAICompatibleModel:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenAICompatibleModel("http://mock.test/v1", "m", client=client)


def _reply(message: dict[str, Any], finish: str = "stop") -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"index": 0, "message": message, "finish_reason": finish}]})


def _sse(*events: str) -> httpx.Response:
    body = "".join(f"data: {event}\n\n" for event in events)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, content=b"<html>Welcome to nginx</html>"),
        httpx.Response(200, json={"object": "list", "data": []}),
        httpx.Response(200, json={"choices": []}),
    ],
)
async def test_a_reply_that_is_not_openai_shaped_is_a_backend_error(reply: httpx.Response) -> None:
    with pytest.raises(BackendError, match="did not answer like an OpenAI-compatible server"):
        await _mock(lambda request: reply).request(HELLO, ModelSettings())


async def test_a_json_answer_to_a_stream_request_is_a_backend_error() -> None:
    model = _mock(lambda request: _reply({"role": "assistant", "content": "hi"}))
    with pytest.raises(BackendError, match="not text/event-stream"):
        await _collect(model.stream(HELLO, ModelSettings()))


@pytest.mark.parametrize("streaming", [False, True])
async def test_undecodable_tool_arguments_are_a_backend_error(streaming: bool) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1,'}}
    fragment = {"index": 0, **call}
    chunk = {"choices": [{"index": 0, "delta": {"tool_calls": [fragment]}, "finish_reason": "tool_calls"}]}
    model = _mock(
        lambda request: (
            _sse(json.dumps(chunk), "[DONE]")
            if streaming
            else _reply({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls")
        )
    )
    with pytest.raises(BackendError, match="tool 'add' whose arguments are not a JSON object"):
        if streaming:
            await _collect(model.stream(HELLO, ModelSettings()))
        else:
            await model.request(HELLO, ModelSettings())


async def test_request_parses_tool_calls() -> None:
    calls = [
        {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}},
        {"id": "c2", "type": "function", "function": {"name": "now", "arguments": ""}},
    ]
    model = _mock(
        lambda request: _reply({"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls")
    )
    response = await model.request(HELLO, ModelSettings())

    assert response.message.tool_calls == [
        ToolCallPart("c1", "add", {"a": 1, "b": 2}),
        ToolCallPart("c2", "now", {}),
    ]
    assert response.finish_reason == "tool_calls"


async def test_stream_without_usage_counts_chunks() -> None:
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]} for t in ("a", "b", "c")
    ]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
    model = _mock(lambda request: _sse(*(json.dumps(c) for c in chunks), "[DONE]"))
    done = (await _collect(model.stream(HELLO, ModelSettings())))[-1]

    assert isinstance(done, ResponseDone)
    assert done.response.message.text == "abc"
    assert done.response.finish_reason == "length"
    assert (done.response.usage.prompt_tokens, done.response.usage.completion_tokens) == (0, 3)


async def test_an_error_status_carries_the_servers_message() -> None:
    error = {"error": {"message": "CUDA out of memory", "type": "InternalServerError"}}
    model = _mock(lambda request: httpx.Response(500, json=error))
    with pytest.raises(BackendError, match=r"HTTP 500.*CUDA out of memory") as caught:
        await model.request(HELLO, ModelSettings())
    assert caught.value.status_code == 500


async def test_an_error_mid_stream_is_a_backend_error() -> None:
    model = _mock(lambda request: _sse(json.dumps({"error": {"message": "engine died"}})))
    with pytest.raises(BackendError, match="engine died"):
        await _collect(model.stream(HELLO, ModelSettings()))


async def test_a_read_timeout_is_a_backend_error_and_dns_failure_a_connection_error() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def no_such_host(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    with pytest.raises(BackendError, match="sent nothing for") as caught:
        await _mock(timeout).request(HELLO, ModelSettings())
    assert not isinstance(caught.value, BackendConnectionError)
    with pytest.raises(BackendConnectionError, match=r"Cannot reach .* http://mock\.test/v1"):
        await _mock(no_such_host).request(HELLO, ModelSettings())


async def test_messages_are_converted_to_openai_shape() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return _reply({"role": "assistant", "content": "ok"})

    call = ToolCallPart("call_1", "get_weather", {"city": "Paris"})
    conversation = [
        Message.system("sys"),
        Message("user", (TextPart("What is this?"), ImagePart(b"\x89PNG", "image/png"))),
        Message("user", (AudioPart(b"RIFF", "audio/wav"), AudioPart(b"ID3", "audio/mpeg"))),
        Message("assistant", (ReasoningPart("hmm"), call)),
        Message("tool", (ToolResultPart("call_1", "get_weather", "sunny"),)),
        Message("assistant", (ReasoningPart("so"), TextPart("It is sunny."))),
    ]
    await _mock(handler).request(conversation, ModelSettings())

    assert sent[0]["messages"] == [
        {"role": "system", "content": "sys"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {"type": "input_audio", "input_audio": {"data": "SUQz", "format": "mp3"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
    ]


async def test_unsupported_audio_is_a_user_error() -> None:
    model = _mock(lambda request: _reply({"role": "assistant", "content": "ok"}))
    with pytest.raises(UserError, match="WAV or MP3"):
        await model.request([Message("user", (AudioPart(b"OggS", "audio/ogg"),))], ModelSettings())


async def test_aclose_leaves_an_injected_client_open() -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(500)))
    model = OpenAICompatibleModel("http://mock.test/v1", "m", client=client)
    await model.aclose()
    assert not client.is_closed
    await client.aclose()


async def test_aclose_closes_the_client_it_made(connect: Callable[..., OpenAICompatibleModel]) -> None:
    model = connect()
    await model.request(HELLO, ModelSettings())
    client = model._client
    await model.aclose()
    assert client is not None and client.is_closed


# --- from_spec -------------------------------------------------------------------------------------------


def test_from_spec_parses_url_and_model() -> None:
    model = OpenAICompatibleModel.from_spec("openai:http://gpu-box:8000/v1/#Qwen/Qwen2.5-7B-Instruct")
    assert model.name == "openai:http://gpu-box:8000/v1#Qwen/Qwen2.5-7B-Instruct"
    assert model.url == "http://gpu-box:8000/v1/chat/completions"


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("openai:http://host:8000/v1", "names no model"),
        ("openai:http://host:8000/v1#", "names no model"),
        ("openai:host:8000/v1#m", "no http:// or https://"),
        ("openai:ftp://host/v1#m", "needs an http:// or https:// scheme"),
        ("vllm:http://host:8000/v1#m", "not an OpenAI-compatible model spec"),
    ],
)
def test_from_spec_rejects_malformed_specs(spec: str, says: str) -> None:
    with pytest.raises(UnknownModelError, match=says) as caught:
        OpenAICompatibleModel.from_spec(spec)
    if "scheme" not in says:
        assert "openai:http://host:8000/v1#model-name" in str(caught.value)


async def test_an_assistant_prefix_is_continued_with_vllms_flags() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return _reply({"role": "assistant", "content": " and so 42."})

    response = await _mock(handler).request(HELLO, ModelSettings(assistant_prefix="<think>\n6x7"))
    assert sent[0]["messages"][-1] == {"role": "assistant", "content": "<think>\n6x7"}
    assert sent[0]["continue_final_message"] is True and sent[0]["add_generation_prompt"] is False
    assert response.message.text == " and so 42."
    await _mock(handler).request(HELLO, ModelSettings())
    assert "continue_final_message" not in sent[1]


async def test_namespaced_tool_names_go_out_in_openais_alphabet_and_come_back_as_they_were() -> None:
    sent: list[dict[str, Any]] = []
    call = {"id": "c1", "type": "function", "function": {"name": "files__read", "arguments": '{"p": "a"}'}}

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return _reply({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls")

    tools = ({"type": "function", "function": {"name": "files.read", "parameters": {"type": "object"}}},)
    history = [*HELLO, Message("assistant", (ToolCallPart("c0", "files.read", {}),))]
    response = await _mock(answer).request(history, ModelSettings(tools=tools))

    assert sent[0]["tools"][0]["function"]["name"] == "files__read"
    assert sent[0]["messages"][-1]["tool_calls"][0]["function"]["name"] == "files__read"
    assert response.message.tool_calls == [ToolCallPart("c1", "files.read", {"p": "a"})]


@pytest.mark.parametrize("streaming", [False, True])
async def test_a_json_schema_goes_as_openais_response_format_then_as_json_object_if_refused(
    streaming: bool,
) -> None:
    """OpenAI, vLLM and llama.cpp's server take ``json_schema``; llama-cpp-python's server refuses it (422)
    and takes ``json_object`` with a ``schema``: the model asks the other way once, and from then on."""
    schema = {"type": "object", "properties": {"intent": {"enum": ["search"]}}, "required": ["intent"]}
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body["response_format"])
        if body["response_format"]["type"] == "json_schema":
            return httpx.Response(422, json={"detail": [{"loc": ["body", "response_format", "type"]}]})
        return _reply({"role": "assistant", "content": '{"intent": "search"}'})

    model = _mock(handler)
    settings = ModelSettings(json_schema=schema)
    for _ in range(2):
        if streaming:
            events = await _collect(model.stream(HELLO, settings))
            text = "".join(e.text for e in events if isinstance(e, TextDelta))
        else:
            text = (await model.request(HELLO, settings)).message.text
        assert json.loads(text) == {"intent": "search"}
    assert [f["type"] for f in seen] == ["json_schema", "json_object", "json_object"]
    assert seen[0]["json_schema"]["schema"] == schema and seen[1]["schema"] == schema


async def test_sampling_fields_go_out_and_log_probabilities_come_back() -> None:
    sent: list[dict[str, Any]] = []
    token = {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        if body.get("stream"):
            chunks = [
                {"choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": {"content": [token]}}]},
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            ]
            return _sse(*(json.dumps(c) for c in chunks), "[DONE]")
        reply = _reply({"role": "assistant", "content": "Hi"}, "stop")
        data = json.loads(reply.content)
        data["choices"][0]["logprobs"] = {"content": [token]}
        return httpx.Response(200, json=data)

    model = _mock(answer)
    settings = ModelSettings(
        frequency_penalty=0.5, presence_penalty=0.2, logit_bias=((7, -100.0),), logprobs=2
    )
    response = await model.request(HELLO, settings)
    done = (await _collect(model.stream(HELLO, settings)))[-1]
    assert isinstance(done, ResponseDone)
    for body in sent:
        assert (body["frequency_penalty"], body["presence_penalty"], body["logit_bias"]) == (
            0.5,
            0.2,
            {"7": -100.0},
        )
        assert (body["logprobs"], body["top_logprobs"]) == (True, 2)
    assert response.details["logprobs"] == [token] == done.response.details["logprobs"]
    await model.request(HELLO, ModelSettings())
    assert "logprobs" not in sent[-1] and "frequency_penalty" not in sent[-1] and "logit_bias" not in sent[-1]


async def test_contemplating_sends_its_agents_as_one_same_prefix_group_with_one_routing_key(
    server: FakeServer, connect: Callable[..., OpenAICompatibleModel], tmp_path: Path
) -> None:
    """Through an engine, Contemplating's sub-agents go out together as requests whose prompts share one
    prefix (the engine's prefix cache prefills it once), and every request of the session carries the
    same routing key."""
    from ponder.config import MemoryConfig, Settings
    from ponder.conversation import Conversation, TurnSpec
    from ponder.memory.owner import Owner
    from ponder.memory.service import MemoryService
    from ponder.modes.registry import ModeOptions, Selection
    from ponder.store import open_database
    from ponder.testing import HashingEmbedder

    memory = MemoryService(open_database(tmp_path / "p.db"), MemoryConfig(extract=False), HashingEmbedder())
    runner = Conversation(Settings(data_dir=tmp_path, programs=False), memory=lambda: memory)
    spec = TurnSpec(
        [Message.user("What is 17 * 23?")],
        Selection("contemplating"),
        ModeOptions(agents=3, adaptive=False),
        owner=Owner("acme", "ann"),
        session_id="s1",
    )
    before = len(server.requests)
    turn = runner.begin(spec)
    await turn.prepare(connect())
    await turn.complete()
    sent = server.requests[before:]
    assert {r["headers"].get("x-session-id") for r in sent} != {None}
    assert len({r["headers"].get("x-session-id") for r in sent}) == 1
    prompts = [json.dumps(r["body"]["messages"][:2]) for r in sent]  # the system prompt and the question
    shared = max(prompts.count(p) for p in prompts)
    assert shared >= 3, [r["body"]["messages"] for r in sent]  # the three agents: one prefix
