"""A model behind any OpenAI-compatible chat server: vLLM, SGLang, llama.cpp's server, Ollama, hosted APIs.

``OpenAICompatibleModel`` speaks ``POST {base_url}/chat/completions``, whole (``request``) or streamed over
server-sent events (``stream``). It converts Ponder messages to OpenAI's shape and back, reads
``reasoning_content`` as reasoning, assembles streamed tool-call fragments, measures usage, and turns every
transport or HTTP failure into a ``BackendConnectionError`` or ``BackendError`` whose message says what is
wrong and what to do.

A reply that must continue a started assistant message (``ModelSettings.assistant_prefix``, which the
Thinking and Contemplating modes use) is sent as a trailing assistant message with vLLM's and SGLang's
``continue_final_message`` flag; servers without that extension answer a fresh turn instead.

It deliberately does not: retry (the caller decides), count prompt tokens itself (the server's figures are
used; without them a streamed answer counts one token per chunk), render prompts (the server applies its
chat template), call the legacy ``/completions`` or ``/responses`` endpoints, or read API keys from the
environment (the config does, and passes the key in).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

import httpx
from httpx_sse import SSEError, aconnect_sse

from ponder.errors import BackendConnectionError, BackendError, UnknownModelError, UserError
from ponder.messages import (
    AudioPart,
    Event,
    FinishReason,
    ImagePart,
    Message,
    ModelResponse,
    Part,
    ReasoningDelta,
    ReasoningPart,
    ResponseDone,
    TextDelta,
    TextPart,
    ToolCallEvent,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from ponder.models.base import Model, ModelSettings, replay

__all__ = ["ROUTING_HEADER", "OpenAICompatibleModel", "to_openai_messages", "wire_name"]

SPEC_PREFIX = "openai:"
SPEC_FORM = "openai:http://host:8000/v1#model-name"
_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_-]")  # what OpenAI's API refuses in a tool name
_CONNECT_TIMEOUT_S = 10.0  # a server that does not accept a connection in this long is not there
_AUDIO_FORMATS = {  # media type -> OpenAI's input_audio format
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}
# The header carrying a conversation's routing key (ModelSettings.routing_key): what a session-aware router
# in front of several engines keys on (vLLM production-stack's router: --session-key x-session-id; an
# Envoy/Istio or nginx consistent hash on a header). ``[models.NAME] routing_header`` changes it.
ROUTING_HEADER: Final = "X-Session-Id"
_FINISH_REASONS: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}


class OpenAICompatibleModel(Model):
    """A chat model served by an OpenAI-compatible server, by base URL and model name."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 600.0,
        client: httpx.AsyncClient | None = None,
        vision: bool = False,
        routing_header: str = ROUTING_HEADER,
    ) -> None:
        scheme, sep, rest = base_url.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest.strip("/"):
            raise UnknownModelError(
                f"'{base_url}' is not a server base URL: it needs an http:// or https:// scheme and a host, "
                "e.g. http://localhost:8000/v1."
            )
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._api_key = api_key
        # How a JSON schema is asked for: OpenAI's shape first; json_object once a server refused it.
        self._schema_style: Literal["json_schema", "json_object"] = "json_schema"
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, _CONNECT_TIMEOUT_S))
        self._client = client
        self._owns_client = client is None  # an injected client belongs to the caller: never closed here
        self.accepts_images = vision  # a vision model: images go to it as image_url parts
        self.routing_header = routing_header  # carries ModelSettings.routing_key ("" : not sent)

    @classmethod
    def from_spec(
        cls,
        spec: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 600.0,
        vision: bool = False,
        routing_header: str = ROUTING_HEADER,
    ) -> OpenAICompatibleModel:
        """The model a spec such as ``openai:http://host:8000/v1#Qwen/Qwen2.5-7B-Instruct`` names."""
        if not spec.startswith(SPEC_PREFIX):
            raise UnknownModelError(f"'{spec}' is not an OpenAI-compatible model spec: write {SPEC_FORM}.")
        base_url, sep, model = spec[len(SPEC_PREFIX) :].partition("#")
        if not sep or not model.strip():
            raise UnknownModelError(
                f"'{spec}' names no model: put the served model's name after '#', as in {SPEC_FORM} "
                "(GET <base-url>/models lists the names a server serves)."
            )
        if "://" not in base_url:
            raise UnknownModelError(
                f"'{spec}' has no http:// or https:// before the host: write {SPEC_FORM}."
            )
        return cls(
            base_url,
            model.strip(),
            api_key=api_key,
            timeout_s=timeout_s,
            vision=vision,
            routing_header=routing_header,
        )

    @property
    def name(self) -> str:
        return f"openai:{self._base_url}#{self._model}"

    @property
    def url(self) -> str:
        """The endpoint every request goes to."""
        return f"{self._base_url}/chat/completions"

    async def request(self, messages: Sequence[Message], settings: ModelSettings) -> ModelResponse:
        started = time.perf_counter()
        with self._transport_errors():
            response = await self._http().post(
                self.url,
                json=self._body(messages, settings, stream=False),
                headers=self._headers(settings),
                timeout=self._timeout,
            )
        if self._other_schema_style(response, settings):
            return await self.request(messages, settings)
        self._raise_for_status(response)
        try:
            body = response.json()
        except ValueError:
            raise self._not_openai(f"the body is not JSON: {_excerpt(response.text)}") from None
        return _named_back(self._parse_response(body, time.perf_counter() - started), settings)

    def _other_schema_style(self, response: httpx.Response, settings: ModelSettings) -> bool:
        """Whether a request with a JSON schema was refused for its ``response_format`` shape, and the
        other shape is still to try: OpenAI's ``json_schema`` (vLLM, llama.cpp's server), or
        ``json_object`` with a ``schema`` (llama-cpp-python's server, which answers 500 to the first)."""
        if settings.json_schema is None or response.status_code not in (400, 422, 500):
            return False
        if self._schema_style != "json_schema" or "response_format" not in response.text:
            return False
        self._schema_style = "json_object"
        return True

    async def stream(self, messages: Sequence[Message], settings: ModelSettings) -> AsyncIterator[Event]:
        if settings.json_schema is not None:  # structured output comes whole (its shape may need a retry)
            for event in replay(await self.request(messages, settings)):
                yield event
            return
        started = time.perf_counter()
        state = _StreamState(started)
        body = self._body(messages, settings, stream=True)
        with self._transport_errors():
            # ``async with`` closes the HTTP stream when the consumer stops early or its task is cancelled.
            async with aconnect_sse(
                self._http(),
                "POST",
                self.url,
                json=body,
                headers=self._headers(settings),
                timeout=self._timeout,
            ) as source:
                if source.response.status_code >= 400:
                    await source.response.aread()
                    self._raise_for_status(source.response)
                try:
                    async for sse in source.aiter_sse():
                        if sse.data.strip() == "[DONE]":
                            state.done = True
                            break
                        for event in state.feed(self._decode_chunk(sse.data)):
                            yield event
                except SSEError:
                    content_type = source.response.headers.get("content-type", "none")
                    raise self._not_openai(
                        f"a streamed request got Content-Type {content_type}, not text/event-stream"
                    ) from None
        if not state.done and state.finish_reason is None:
            raise BackendError(
                f"The OpenAI-compatible server at {self.url} closed the stream before the answer finished "
                "(no finish_reason, no [DONE]). Check the server's log: it may have crashed or run out of "
                "memory."
            )
        response = _named_back(self._assemble(state), settings)
        for call in response.message.tool_calls:
            yield ToolCallEvent(call)
        yield ResponseDone(response)

    async def probe(self, timeout_s: float = 3.0) -> tuple[bool, str]:
        """Whether the server answers ``GET /models`` and serves this model: (ready, what was found)."""
        try:
            with self._transport_errors():
                response = await self._http().get(
                    f"{self._base_url}/models", headers=self._headers(), timeout=timeout_s
                )
            self._raise_for_status(response)
            served = [m.get("id") for m in response.json().get("data", []) if isinstance(m, dict)]
        except (BackendError, BackendConnectionError) as err:
            return False, str(err).split(". ")[0]
        except (ValueError, AttributeError):
            return False, f"{self._base_url}/models did not answer with OpenAI's model list"
        if self._model in served:
            return True, f"served by {self._base_url}"
        shown = ", ".join(str(m) for m in served[:5]) or "none"
        return False, f"{self._base_url} does not serve '{self._model}' (it serves: {shown})"

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- request -------------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        return self._client

    def _headers(self, settings: ModelSettings | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        if settings is not None and settings.routing_key and self.routing_header:
            headers[self.routing_header] = settings.routing_key
        return headers

    def _body(self, messages: Sequence[Message], settings: ModelSettings, *, stream: bool) -> dict[str, Any]:
        converted = to_openai_messages(messages, wire_name)
        body: dict[str, Any] = {
            "model": self._model,
            "messages": converted,
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
        }
        if settings.seed is not None:
            body["seed"] = settings.seed
        if settings.frequency_penalty:
            body["frequency_penalty"] = settings.frequency_penalty
        if settings.presence_penalty:
            body["presence_penalty"] = settings.presence_penalty
        if settings.logit_bias:
            body["logit_bias"] = {str(token): bias for token, bias in settings.logit_bias}
        if settings.logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = settings.logprobs
        if settings.stop:
            body["stop"] = list(settings.stop)
        if settings.tools:
            body["tools"] = [_wire_tool(t) for t in settings.tools]
            if settings.tool_choice != "auto":
                body["tool_choice"] = settings.tool_choice
        if settings.json_schema is not None and self._schema_style == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": settings.json_schema, "strict": True},
            }
        elif settings.json_schema is not None:
            body["response_format"] = {"type": "json_object", "schema": settings.json_schema}
        if settings.assistant_prefix:
            # The reply continues a started assistant message (Thinking, Contemplating). vLLM and SGLang
            # take these two fields; llama.cpp's server continues a trailing assistant message by itself.
            converted.append({"role": "assistant", "content": settings.assistant_prefix})
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    # --- errors --------------------------------------------------------------------------------------

    @contextmanager
    def _transport_errors(self) -> Iterator[None]:
        """Turn httpx's transport exceptions into Ponder's, with the URL and a next step."""
        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as err:
            raise BackendConnectionError(
                f"Cannot reach the OpenAI-compatible server at {self._base_url}: is it running? "
                f"({type(err).__name__}: {err or 'no detail'}). Start the server, or fix the host and port "
                f"in the model spec ({SPEC_FORM})."
            ) from None
        except httpx.ReadTimeout:
            raise BackendError(
                f"The OpenAI-compatible server at {self.url} sent nothing for {self._timeout.read:g} s. "
                "It may be overloaded or generating a very long answer: raise request_timeout_s "
                "(PONDER_REQUEST_TIMEOUT_S) or lower max_tokens."
            ) from None
        except httpx.TransportError as err:
            raise BackendError(
                f"The connection to the OpenAI-compatible server at {self.url} failed mid-request "
                f"({type(err).__name__}: {err or 'no detail'}). Check the server's log, then try again."
            ) from None

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        said = _server_message(response)
        where = f"The OpenAI-compatible server at {self.url} answered HTTP {status} ({said})"
        if status in (401, 403):
            key = "No API key was sent" if self._api_key is None else "The API key was refused"
            message = (
                f"{where}. {key}: check the key, e.g. the environment variable named by api_key_env "
                "in the model's [models.NAME] table of the config."
            )
        elif status == 404:
            message = (
                f"{where}. The base URL or the model name '{self._model}' is probably wrong: the base URL "
                f"usually ends in /v1, and GET {self._base_url}/models lists the names this server serves."
            )
        else:
            message = f"{where}."
        raise BackendError(message, status_code=status)

    def _not_openai(self, detail: str) -> BackendError:
        return BackendError(
            f"The server at {self.url} did not answer like an OpenAI-compatible server: {detail}. "
            "Check that the base URL points at its OpenAI API (usually ending in /v1)."
        )

    # --- replies -------------------------------------------------------------------------------------

    def _parse_response(self, body: Any, total_time_s: float) -> ModelResponse:
        try:
            choice = body["choices"][0]
            message = choice["message"]
            if not isinstance(message, dict):
                raise TypeError("message is not an object")
        except (KeyError, IndexError, TypeError):
            raise self._not_openai(f"no choices[0].message in {_excerpt(json.dumps(body))}") from None
        parts: list[Part] = []
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            parts.append(ReasoningPart(reasoning))
        text = _content_text(message.get("content"))
        if text:
            parts.append(TextPart(text))
        finish = choice.get("finish_reason")
        for call in message.get("tool_calls") or []:
            if not isinstance(call, dict):
                raise self._not_openai(f"a tool call is not an object: {_excerpt(json.dumps(call))}")
            function = call.get("function") or {}
            arguments = self._decode_arguments(function.get("name", ""), function.get("arguments"), finish)
            parts.append(ToolCallPart(call.get("id") or _new_call_id(), function.get("name", ""), arguments))
        prompt, completion, reasoning_tokens = _usage_counts(body.get("usage"))
        usage = Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            reasoning_tokens=reasoning_tokens,
            total_time_s=total_time_s,
        )
        msg = Message("assistant", tuple(parts))
        logprobs = choice.get("logprobs")
        content = logprobs.get("content") if isinstance(logprobs, dict) else None
        details = {"logprobs": content} if isinstance(content, list) and content else {}
        return ModelResponse(msg, usage, self.name, _finish_reason(finish, bool(msg.tool_calls)), details)

    def _decode_chunk(self, data: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except ValueError:
            raise self._not_openai(f"a stream event is not JSON: {_excerpt(data)}") from None
        if not isinstance(chunk, dict):
            raise self._not_openai(f"a stream event is not a JSON object: {_excerpt(data)}")
        if "error" in chunk:  # vLLM and others report failures mid-stream this way
            error = chunk["error"]
            said = error.get("message", error) if isinstance(error, dict) else error
            raise BackendError(f"The OpenAI-compatible server at {self.url} failed mid-answer: {said}")
        return chunk

    def _assemble(self, state: _StreamState) -> ModelResponse:
        parts: list[Part] = []
        if state.reasoning:
            parts.append(ReasoningPart("".join(state.reasoning)))
        if state.text:
            parts.append(TextPart("".join(state.text)))
        for index in sorted(state.calls):
            call_id, name, pieces = state.calls[index]
            arguments = self._decode_arguments(name, "".join(pieces), state.finish_reason)
            parts.append(ToolCallPart(call_id or _new_call_id(), name, arguments))
        now = time.perf_counter()
        usage = Usage(total_time_s=now - state.started)
        if state.first_at is not None:
            usage.time_to_first_token_s = state.first_at - state.started
            usage.decode_time_s = state.last_at - state.first_at
        if state.usage is not None:
            usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens = state.usage
        else:  # no usage chunk: one token per chunk is what these servers send
            usage.completion_tokens = state.chunks
            usage.reasoning_tokens = state.reasoning_chunks
        message = Message("assistant", tuple(parts))
        finish = _finish_reason(state.finish_reason, bool(message.tool_calls))
        details = {"logprobs": state.logprobs} if state.logprobs else {}
        return ModelResponse(message, usage, self.name, finish, details)

    def _decode_arguments(self, name: str, arguments: Any, finish: str | None) -> dict[str, Any]:
        if isinstance(arguments, dict):  # a few servers send an object instead of a JSON string
            return arguments
        if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
            return {}
        try:
            decoded = json.loads(arguments)
        except (TypeError, ValueError):
            decoded = None
        if isinstance(decoded, dict):
            return decoded
        hint = (
            " The answer was cut off at max_tokens: raise max_tokens."
            if finish == "length"
            else " The model wrote a malformed tool call; a retry or a stronger model may help."
        )
        raise BackendError(
            f"The OpenAI-compatible server at {self.url} returned a call to tool '{name}' whose arguments "
            f"are not a JSON object: {_excerpt(str(arguments))}.{hint}"
        )


@dataclass
class _StreamState:
    """What a streamed answer has delivered so far."""

    started: float
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, tuple[str, str, list[str]]] = field(default_factory=dict)  # index -> (id, name, args)
    finish_reason: str | None = None
    usage: tuple[int, int, int] | None = None  # (prompt, completion, reasoning) from the usage chunk
    logprobs: list[dict[str, Any]] = field(default_factory=list)  # the tokens' log probabilities, if sent
    chunks: int = 0  # chunks that carried generated output
    reasoning_chunks: int = 0
    first_at: float | None = None
    last_at: float = 0.0
    done: bool = False

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        """Take one chunk; return the deltas to pass on now (tool calls wait for the end)."""
        if isinstance(chunk.get("usage"), dict):
            self.usage = _usage_counts(chunk["usage"])
        choices = chunk.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return []  # the usage chunk, or a keep-alive
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta") or {}
        events: list[Event] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self.reasoning.append(reasoning)
            self.reasoning_chunks += 1
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            self.text.append(content)
            events.append(TextDelta(content))
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
            self.logprobs += logprobs["content"]
        fragments = delta.get("tool_calls") or []
        for position, fragment in enumerate(fragments):
            if isinstance(fragment, dict):
                self._add_fragment(fragment.get("index", position), fragment)
        if events or fragments:
            self._generated()
        return events

    def _add_fragment(self, index: int, fragment: dict[str, Any]) -> None:
        call_id, name, pieces = self.calls.get(index, ("", "", []))
        function = fragment.get("function") or {}
        call_id = fragment.get("id") or call_id
        name += function.get("name") or ""
        if isinstance(function.get("arguments"), str):
            pieces.append(function["arguments"])
        self.calls[index] = (call_id, name, pieces)

    def _generated(self) -> None:
        now = time.perf_counter()
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        self.chunks += 1


# --- conversion ------------------------------------------------------------------------------------------


def wire_name(name: str) -> str:
    """A tool name as OpenAI's API accepts it (``^[a-zA-Z0-9_-]{1,64}$``): MCP's ``server.tool`` becomes
    ``server__tool``. Names are mapped back by the tools offered in the request (``_named_back``)."""
    return _NOT_IN_NAME.sub("_", name.replace(".", "__"))[:64]


def _wire_tool(definition: dict[str, Any]) -> dict[str, Any]:
    function = definition.get("function")
    if not isinstance(function, dict) or "name" not in function:
        return definition
    return {**definition, "function": {**function, "name": wire_name(str(function["name"]))}}


def _named_back(response: ModelResponse, settings: ModelSettings) -> ModelResponse:
    """``response`` with its tool calls under the names Ponder gave the tools."""
    names = {
        wire_name(n): n for t in settings.tools if isinstance(n := t.get("function", {}).get("name"), str)
    }
    if not response.message.tool_calls or not names:
        return response
    parts = tuple(
        replace(p, name=names.get(p.name, p.name)) if isinstance(p, ToolCallPart) else p
        for p in response.message.parts
    )
    return replace(response, message=Message(response.message.role, parts))


def to_openai_messages(
    messages: Sequence[Message], name: Callable[[str], str] = lambda n: n
) -> list[dict[str, Any]]:
    """Ponder messages in OpenAI's chat shape. Reasoning is dropped; tool results become ``tool`` messages;
    ``name`` maps tool names to what the server is told."""
    converted: list[dict[str, Any]] = []
    for message in messages:
        rest: list[Part] = []
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                converted.append({"role": "tool", "tool_call_id": part.call_id, "content": part.content})
            elif not isinstance(part, ReasoningPart):
                rest.append(part)
        if message.role == "tool" or not rest:  # only tool results (or only reasoning): nothing more to say
            continue
        calls = [p for p in rest if isinstance(p, ToolCallPart)]
        content = _content([p for p in rest if not isinstance(p, ToolCallPart)])
        entry: dict[str, Any] = {"role": message.role, "content": content if content or not calls else None}
        if calls:
            entry["tool_calls"] = wire_tool_calls(calls, name)
        converted.append(entry)
    return converted


def wire_tool_calls(
    calls: Sequence[ToolCallPart], name: Callable[[str], str] = lambda n: n
) -> list[dict[str, Any]]:
    """Tool calls in OpenAI's shape: the arguments as a JSON string; ``name`` maps the tool names."""
    return [
        {
            "id": call.call_id,
            "type": "function",
            "function": {"name": name(call.name), "arguments": json.dumps(call.arguments)},
        }
        for call in calls
    ]


def _content(parts: Sequence[Part]) -> str | list[dict[str, Any]]:
    """A plain string for text only; a list of content parts as soon as there is an image or audio."""
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            data = base64.b64encode(part.data).decode("ascii")
            content.append(
                {"type": "image_url", "image_url": {"url": f"data:{part.media_type};base64,{data}"}}
            )
        elif isinstance(part, AudioPart):
            data = base64.b64encode(part.data).decode("ascii")
            content.append(
                {"type": "input_audio", "input_audio": {"data": data, "format": _audio_format(part)}}
            )
    return content


def _audio_format(part: AudioPart) -> str:
    media_type = part.media_type.split(";")[0].strip().lower()
    if media_type not in _AUDIO_FORMATS:
        raise UserError(
            f"OpenAI-compatible servers take WAV or MP3 audio, not {part.media_type}: convert it first "
            "(e.g. ffmpeg -i input output.wav)."
        )
    return _AUDIO_FORMATS[media_type]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # a few servers answer with content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _usage_counts(usage: Any) -> tuple[int, int, int]:
    """(prompt, completion, reasoning) tokens from an OpenAI ``usage`` object; zeros where absent."""
    if not isinstance(usage, dict):
        return 0, 0, 0
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), int(reasoning or 0)


def _finish_reason(reason: Any, has_tool_calls: bool) -> FinishReason:
    mapped = _FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop"
    if has_tool_calls and mapped == "stop":  # some servers (older Ollama) say "stop" after a tool call
        return "tool_calls"
    return mapped


def _server_message(response: httpx.Response) -> str:
    """The server's own words about an error: OpenAI's ``{"error": {"message": ...}}`` or the raw body."""
    try:
        body = response.json()
    except ValueError:
        return _excerpt(response.text) or "empty body"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("error", "detail", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return _excerpt(response.text)


def _excerpt(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else f"{text[:limit]}..."


def _new_call_id() -> str:
    """An id for a tool call the server sent without one (older llama.cpp servers do)."""
    return f"call_{uuid.uuid4().hex[:24]}"
