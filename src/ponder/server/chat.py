"""``POST /v1/chat/completions``: one turn of a reasoning mode, answered whole or streamed as SSE.

The order of checks is the contract: the key (401), the body (400, or 413 past the caps on its shape: both
still cost one request of the key's limit), its ``http(s)`` image URLs fetched (``image_fetch``; 400 for
one that cannot be used), the limits priced by mode and sub-agents (429), a free turn slot
(503, or 429 past the key's share), memory (the session's history and the facts recalled about the user),
perception, then the turn, under the server's timeout (504). What the model generated counts toward the
key's day, times its mode's price, however the turn ended (finished, failed, timed out, cancelled, or its
stream closed early), and so does perception's work; what the day has left caps what the turn may generate.
The turn itself (session, recall, perception, routing once, the mode and its preset, storing, learning) is
the conversation runner's (``ponder.conversation``); this module only translates: the request into a
``TurnSpec``, the runner's events into a completion or SSE chunks. A turn that succeeds is stored in its
session before the response is sent; what the user stated about themselves is learned after it, in the
background.

Nothing that blocks runs on the event loop: the key's lookup, the limits, parsing the body and building the
turn, memory and perception run in worker threads (large requests' one at a time), so one heavy request
does not hold up the others; a database that stays busy answers 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import jsonschema
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ponder.config import TierConfig
from ponder.conversation import Conversation, Turn, TurnDone, TurnSpec, mode_options
from ponder.errors import MediaError, NoSpeechError, PonderError, UserError
from ponder.memory.learning import queue_stated
from ponder.memory.owner import DEFAULT_USER, Owner
from ponder.memory.sessions import check_session_id
from ponder.messages import (
    AgentEvent,
    ChoiceDelta,
    Message,
    PerceptionEvent,
    ReasoningDelta,
    TextDelta,
    TokenLogprobs,
    ToolCallEvent,
    ToolResultEvent,
)
from ponder.models.base import Model, ModelSettings
from ponder.models.metered import MeteredModel
from ponder.models.openai_compat import wire_tool_calls
from ponder.models.structured import ANY_OBJECT, OutputSchema
from ponder.modes.registry import MODE_CHOICES, PRESET_NAMES, Selection, select
from ponder.server.actions import action_json
from ponder.server.auth import Admission, Principal, admission, admission_now, admit, identify
from ponder.server.errors import ApiError, from_ponder_error
from ponder.server.image_fetch import inline_image_urls
from ponder.server.protocol import ChatCompletionRequest, ResponseFormat
from ponder.server.shape import check_shape, scan_body
from ponder.server.state import ServerState
from ponder.server.streaming import ClientGone, EventStream, run_until_disconnect
from ponder.server.translate import FINISH_REASONS, mode_ran, to_messages, usage_out
from ponder.sharing import LARGE_REQUEST_BYTES, large_work
from ponder.tools.base import Tool
from ponder.tools.runner import ToolRunner
from ponder.turn import TurnResult

if TYPE_CHECKING:
    from ponder.commerce.tools import Proposal

__all__ = [
    "MODE_MODELS",
    "Begun",
    "PreparedTurn",
    "account_usage",
    "admit_turn",
    "charge",
    "chat_completions",
    "complete_turn",
    "count_refused",
    "in_thread",
    "learn_later",
    "pending_actions",
    "prepare",
    "spending",
    "start_streamed",
    "start_turn",
    "stream_closed",
    "timed",
    "turn_model",
    "turn_price",
    "validation_message",
]

log = logging.getLogger("ponder.server")
MODE_MODELS = {f"ponder-{name}": name for name in MODE_CHOICES}  # model id -> mode (or preset), default model
T = TypeVar("T")


@dataclass
class PreparedTurn:
    request: ChatCompletionRequest
    principal: Principal
    turn: Turn  # the runner's turn: its mode (routed once), preset, and then its memory and perception
    model_spec: str
    meter: MeteredModel | None = None  # the model, counting what the turn spends; set once admitted
    charged: bool = False  # the turn's tokens were taken from the key's day


@dataclass
class Begun:
    """How far a chat request's blocking start got (``chat_completions.begin``)."""

    principal: Principal | None = None  # the key's, once looked up
    counted: bool = False  # parsed: what fails after that is the limiter's answer (a 429) or comes after it
    admitted: Admission | None = None  # admitted in the worker thread (the database's limiter)


async def chat_completions(state: ServerState, request: Request) -> Response:
    body = await request.body()
    header = request.headers.get("x-ponder-session")
    begun = Begun()

    def parse() -> ChatCompletionRequest:
        """A first trip to a worker thread: the key's lookup, then the body parsed and checked."""
        begun.principal = identify(state, request.headers.get("authorization"))
        return parse_request(state, body)

    def begin(parsed: ChatCompletionRequest) -> PreparedTurn:
        """A second trip, once its image URLs are fetched: the turn's begin (routing, preset); then, where
        the limiter answers here, admission and the session and recall (``Turn.resume``)."""
        assert begun.principal is not None
        prepared = prepare(state, begun.principal, parsed, len(body), header)
        begun.counted = True
        begun.admitted = admission_now(state, begun.principal, turn_price(state, prepared))
        if begun.admitted is not None:
            try:
                prepared.turn.resume()
            except PonderError as err:
                raise from_ponder_error(err) from err
        return prepared

    try:
        parsed = await in_thread(state, len(body), parse)
        parsed.messages = await inline_image_urls(parsed.messages, state.image_fetcher)
        await state.server_tools.current()  # listed again if older than [server] tools_refresh_s
        prepared = await in_thread(state, len(body), begin, parsed)
    except ApiError:
        await count_refused(state, request, begun)
        raise
    turn = prepared.turn
    headers, rate, allowance = await admit_turn(state, request, prepared, begun)
    if prepared.request.stream:
        await start_streamed(state, prepared, rate, allowance)
        return EventStream(
            _stream(state, prepared, rate),
            headers=headers,
            on_close=lambda: stream_closed(state, prepared, rate),
        )
    result = await complete_turn(state, request, prepared, rate, allowance)
    if isinstance(result, Response):
        return result
    completion = _completion(prepared, result)
    if turn.proposals:
        completion["ponder"] = {"pending_actions": pending_actions(turn.proposals)}
    return JSONResponse(completion, headers=headers)


async def count_refused(state: ServerState, request: Request, begun: Begun) -> None:
    """A request refused before its turn began still counts against its key (and a 429 wins over the 400)."""
    if begun.principal is not None:
        request.scope["state"]["account"] = begun.principal.account
        if not begun.counted:
            await admit(state, begun.principal, 1.0)


async def admit_turn(
    state: ServerState, request: Request, prepared: PreparedTurn, begun: Begun
) -> tuple[dict[str, str], float, int | None]:
    """The turn admitted by its key's limits (where the worker thread did not already): the response's
    rate-limit headers, the key's price per token for the turn's mode, and the tokens the turn may still
    spend (None: no daily limit)."""
    principal = prepared.principal
    request.scope["state"]["account"] = principal.account
    admitted = begun.admitted or await admission(state, principal, turn_price(state, prepared))
    return (admitted.headers, *spending(prepared, admitted))


def spending(prepared: PreparedTurn, admitted: Admission) -> tuple[float, int | None]:
    """The key's price per token for the turn's mode, and the tokens the turn may still spend by the key's
    day (None: no daily limit)."""
    rate = prepared.principal.tier.token_price(prepared.turn.mode_name)
    left = admitted.tokens_left
    return rate, None if left is None or rate <= 0 else int(left // rate)


async def start_streamed(
    state: ServerState, prepared: PreparedTurn, rate: float, allowance: int | None
) -> None:
    """A streamed turn started in one of the key's slots, before the stream does, so that a broken image
    or clip gets its own status code; the slot is given back and the turn charged if it fails."""
    key_id = prepared.principal.key_id
    state.take_slot(key_id)
    try:
        prepared.meter = MeteredModel(turn_model(state, prepared), allowance)
        await start_turn(state, prepared, prepared.meter)
    except BaseException:
        state.release_slot(key_id)
        await charge(state, prepared, rate)
        raise


async def complete_turn(
    state: ServerState, request: Request, prepared: PreparedTurn, rate: float, allowance: int | None
) -> TurnResult | Response:
    """A turn not streamed, run to its end in one of the key's slots, charged and accounted: its result, or
    a 499 when the client went away (the turn is then cancelled)."""
    turn = prepared.turn
    result: TurnResult | None = None
    async with state.turn_slot(prepared.principal.key_id):
        try:
            prepared.meter = MeteredModel(turn_model(state, prepared), allowance)
            await start_turn(state, prepared, prepared.meter)
            result = await run_until_disconnect(request, timed(state, turn.complete()))
            await learn_later(state, prepared)
        except ClientGone:
            state.metrics.turns.labels(turn.mode_name, "cancelled").inc()
            return Response(status_code=499)
        except PonderError as err:
            state.metrics.turns.labels(turn.mode_name, "failed").inc()
            raise from_ponder_error(err) from err
        finally:
            await charge(state, prepared, rate, result)
    assert result is not None
    account_usage(state, result)
    return result


def turn_price(state: ServerState, prepared: PreparedTurn) -> float:
    """What the turn costs of the key's requests per minute: its mode's price (routed once)."""
    agents = prepared.request.agents or state.settings.agents
    return prepared.principal.tier.price(prepared.turn.mode_name, agents)


def parse_request(state: ServerState, body: bytes) -> ChatCompletionRequest:
    """Parse and check the request's body; every problem is an ApiError (400/413).

    Blocking (a large body takes a while to scan and parse): run it in a worker thread."""
    caps = state.settings.server
    scan_body(body, caps)
    try:
        request = ChatCompletionRequest.model_validate_json(body)
    except ValidationError as err:
        message, param = validation_message(err)
        raise ApiError(400, message, param=param) from None
    check_shape(request, caps)
    _unsupported(request)
    return request


def prepare(
    state: ServerState,
    principal: Principal,
    request: ChatCompletionRequest,
    size: int,
    session_header: str | None,
    messages: list[Message] | None = None,
) -> PreparedTurn:
    """Begin the parsed request's turn (routed, its preset applied, its mode built); every problem is an
    ApiError (400/404). ``size`` is the body's, in bytes; ``messages``: the turn's, where the caller
    translated them itself (the Responses API), else ``request.messages`` translated.

    Blocking (a shopping turn reads its store): run it in a worker thread."""
    spec, selection = _target(state, request)
    messages = to_messages(request.messages) if messages is None else messages
    if messages[-1].role not in ("user", "tool"):
        raise ApiError(400, "The last message must be from the user (or a tool result).", param="messages")
    principal = replace(principal, user=request.user)
    session_id = _session_id(request, session_header)  # before the preset: its hand-off tickets carry it
    owner = _owner(principal, request)
    s = state.settings
    stop = request.stop if isinstance(request.stop, list) else [request.stop] if request.stop else []
    settings = ModelSettings(
        max_tokens=request.max_completion_tokens or request.max_tokens or s.max_tokens,
        temperature=s.temperature if request.temperature is None else request.temperature,
        top_p=0.95 if request.top_p is None else request.top_p,
        seed=request.seed if request.seed is not None else s.seed,
        stop=tuple(stop),
        tool_choice="auto" if request.tool_choice in (None, "auto", "none") else "required",
        frequency_penalty=request.frequency_penalty or 0.0,
        presence_penalty=request.presence_penalty or 0.0,
        logit_bias=_logit_bias(request.logit_bias),
        logprobs=_logprobs(request),
    )
    options = mode_options(
        s,
        budget=request.budget,
        effort=_effort(request.reasoning_effort),
        agents=request.agents,
        tools=_tools(state, request),
        sandbox=state.sandbox,
        samples=request.n or 1,
    )
    conversation = Conversation(
        s,
        memory=lambda: state.memory,
        perception=state.perception,
        shop=lambda: state.shop,
        in_thread=functools.partial(in_thread, state, size),
    )
    turn_spec = TurnSpec(
        messages,
        selection,
        options,
        settings,
        owner=owner,
        session_id=session_id,
        memory=request.memory is not False,
        scope=principal.account,
        output=_output(request.response_format),
    )
    try:
        turn = conversation.begin(turn_spec)
    except PonderError as err:
        raise from_ponder_error(err) from None
    return PreparedTurn(request, principal, turn, spec)


async def in_thread(state: ServerState, size: int, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``work`` in a worker thread. Threads share one interpreter, so the work of large requests (parsing,
    storing thousands of messages) gains nothing from running at once: it takes turns, and leaves the
    interpreter to the event loop and to small requests in between."""
    if size <= LARGE_REQUEST_BYTES:
        return await asyncio.to_thread(work, *args, **kwargs)

    def large() -> T:
        with large_work():  # its loops breathe while small requests run (ponder.sharing)
            return work(*args, **kwargs)

    async with state.large_requests:
        return await asyncio.to_thread(large)


def _target(state: ServerState, request: ChatCompletionRequest) -> tuple[str, Selection]:
    """(model spec, selection) that ``model``, ``mode`` and ``preset`` name together."""
    fixed = MODE_MODELS.get(request.model)
    if fixed in PRESET_NAMES:  # ponder-shopping: the preset, under the mode asked for (or auto)
        if request.preset is not None and request.preset != fixed:
            raise ApiError(
                400,
                f"model '{request.model}' is the {fixed} preset, but preset '{request.preset}' was asked "
                "for.",
                param="preset",
            )
        under = None if request.mode == fixed else request.mode
        return state.settings.model, _select(under, fixed, "auto")
    if fixed is not None:
        if request.mode is not None and request.mode != fixed:
            raise ApiError(
                400,
                f"model '{request.model}' is the {fixed} mode, but mode '{request.mode}' was asked for: "
                f"drop one, or use model '{state.settings.model}' with a mode.",
                param="mode",
            )
        return state.settings.model, _select(fixed, request.preset)
    if request.model != state.settings.model and request.model not in state.settings.models:
        known = [*MODE_MODELS, state.settings.model, *sorted(state.settings.models)]
        raise ApiError(
            404,
            f"The model '{request.model}' does not exist here. Models: {', '.join(known)}.",
            code="model_not_found",
            param="model",
        )
    effort = request.reasoning_effort
    mode = request.mode or ("instant" if effort == "none" else "thinking" if effort else None)
    return request.model, _select(mode, request.preset, state.settings.mode)


def _effort(effort: str | None) -> str | None:
    """OpenAI's reasoning efforts as Thinking's three budgets (none: no Thinking at all)."""
    return {"none": None, "minimal": "low", "xhigh": "high", "max": "high"}.get(effort or "", effort)


def _logit_bias(bias: dict[str, float] | None) -> tuple[tuple[int, float], ...]:
    """OpenAI's ``logit_bias`` as (token id, bias) pairs; a 400 for a key that is no token id."""
    pairs = []
    for token, value in (bias or {}).items():
        if not token.isdigit() or not -100 <= value <= 100:
            message = (
                f"logit_bias maps token ids (digits) to values from -100 to 100; got {token!r}: {value}."
            )
            raise ApiError(400, message, param="logit_bias")
        pairs.append((int(token), float(value)))
    if len(pairs) > 300:
        raise ApiError(400, "logit_bias may hold at most 300 tokens.", param="logit_bias")
    return tuple(pairs)


def _logprobs(request: ChatCompletionRequest) -> int | None:
    """How many alternatives per token the reply's log probabilities carry (None: no log probabilities)."""
    if request.top_logprobs is not None and not request.logprobs:
        raise ApiError(400, "top_logprobs needs logprobs: true.", param="top_logprobs")
    return (request.top_logprobs or 0) if request.logprobs else None


def _unsupported(request: ChatCompletionRequest) -> None:
    """A 400 naming a standard field asking for what Ponder does not do."""
    if request.modalities is not None and any(m != "text" for m in request.modalities):
        raise ApiError(400, "Only text output is supported: modalities must be ['text'].", param="modalities")
    if request.audio is not None:
        raise ApiError(
            400, "Audio output is not supported (audio input is: input_audio parts).", param="audio"
        )
    if request.web_search_options is not None:
        message = "Web search is not supported; give the model a search tool (tools, or an MCP server)."
        raise ApiError(400, message, param="web_search_options")


def _output(response_format: ResponseFormat | None) -> OutputSchema | None:
    """The structured output ``response_format`` asks for; a 400 naming what cannot be enforced."""
    if response_format is None or response_format.type == "text":
        return None
    try:
        if response_format.type == "json_object":
            return OutputSchema.of(None)
        spec = response_format.json_schema
        return OutputSchema.of(spec.schema_ or ANY_OBJECT, spec.name, spec.strict)
    except UserError as err:
        raise ApiError(400, str(err), param="response_format") from None


def _select(mode: str | None, preset: str | None, default: str = "auto") -> Selection:
    try:
        return select(mode, preset, default)
    except UserError as err:
        raise ApiError(400, str(err), param="mode") from None


def _tools(state: ServerState, request: ChatCompletionRequest) -> ToolRunner | None:
    """The tools of the turn: Ponder's own and the client's (which end the turn when called)."""
    if request.tool_choice == "none":
        return None
    client = [
        Tool(
            t.function.name,
            t.function.description or "",
            t.function.parameters or {"type": "object", "properties": {}},
            invoke=None,  # the client runs it: the turn ends with the call
        )
        for t in request.tools or ()
    ]
    tools = [*state.server_tools.tools, *client]  # listed for this turn by its route (tool_listing.py)
    choice = request.tool_choice
    if choice is not None and not isinstance(choice, str):  # a named function: offer that one alone
        tools = [t for t in tools if t.name == choice.function.name]
        if not tools:
            raise ApiError(
                400,
                f"tool_choice names '{choice.function.name}', which is not in tools.",
                param="tool_choice",
            )
    if not tools:
        if choice == "required":
            raise ApiError(400, "tool_choice is 'required' but no tools were given.", param="tool_choice")
        return None
    try:
        return ToolRunner(tools)
    except UserError as err:
        raise ApiError(400, str(err), param="tools") from None
    except jsonschema.SchemaError as err:
        message = f"A tool's parameters are not a valid JSON schema: {err.message}"
        raise ApiError(400, message, param="tools") from None


def _session_id(request: ChatCompletionRequest, header: str | None) -> str | None:
    if header and request.session_id and header != request.session_id:
        raise ApiError(
            400,
            f"The X-Ponder-Session header ({header}) and session_id ({request.session_id}) differ: send one.",
            param="session_id",
        )
    session_id = header or request.session_id
    if session_id is not None:
        try:
            check_session_id(session_id)
        except UserError as err:
            raise ApiError(400, str(err), param="session_id") from None
    return session_id


def _owner(principal: Principal, request: ChatCompletionRequest) -> Owner:
    """Whose turn it is: the key's account, the request's user (default ``me``) and project."""
    try:
        return Owner(principal.account, request.user or DEFAULT_USER, request.project or "")
    except UserError as err:
        raise ApiError(400, str(err), param="project" if request.project else "user") from None


async def start_turn(state: ServerState, prepared: PreparedTurn, model: Model) -> None:
    """The turn's session, recall and perception (the runner's ``prepare``); errors are ApiErrors."""
    turn = prepared.turn
    try:
        await turn.prepare(model)
    except NoSpeechError as err:
        raise ApiError(400, str(err), code="no_speech", param="messages") from None
    except MediaError as err:
        raise ApiError(400, str(err), code="invalid_media", param="messages") from None
    except PonderError as err:
        raise from_ponder_error(err) from err
    if turn.perception:
        state.metrics.perception_seconds.observe(turn.perception_s)


async def learn_later(state: ServerState, prepared: PreparedTurn) -> None:
    """Before the answer ends: what the stored turn states about the user, queued as a durable learning job
    (memory/learning.py) that the server's async job worker, on this replica or another, carries out later.
    Queued before the client has the whole answer, so a turn acknowledged is a turn whose learning is in
    the database even if this replica dies at once; no model call (most turns state nothing: no write)."""
    try:
        await queue_stated(state.db, prepared.turn, prepared.model_spec)  # not metered: nor charged
        if state.jobs is not None:
            state.jobs.wake()
    except Exception:  # the answer is not held back by it; the log has why the learning was not queued
        log.exception("queueing what a turn taught failed")


def turn_model(state: ServerState, turn: PreparedTurn) -> Model:
    try:
        return state.model(turn.model_spec)
    except PonderError as err:
        raise from_ponder_error(err) from err


async def timed(state: ServerState, work: Any) -> TurnResult:
    limit = state.settings.server.turn_timeout_s
    try:
        async with asyncio.timeout(limit):
            result: TurnResult = await work
            return result
    except TimeoutError:
        raise ApiError(
            504, f"The turn took longer than {limit:g} s and was stopped.", "timeout", "turn_timeout"
        ) from None


async def charge(
    state: ServerState, turn: PreparedTurn, rate: float, result: TurnResult | None = None
) -> None:
    """Take what the turn spent from the key's day, once: its model tokens times the mode's token price (a
    finished turn's usage, as the client sees it; else what the meter counted of every call, finished or
    not), and perception's work (see TierConfig)."""
    if turn.charged:
        return
    turn.charged = True
    if result is not None:
        generated = result.usage.prompt_tokens + result.usage.completion_tokens
    else:
        generated = turn.meter.tokens if turn.meter is not None else 0
    tokens = round(generated * rate) + perception_tokens(turn.principal.tier, turn.turn.perception)
    await state.limiter.charge_tokens(turn.principal.key_id, tokens)


def perception_tokens(tier: TierConfig, reports: list[dict[str, Any]]) -> int:
    """What perception's work costs in tokens of the day: images read by OCR per megapixel, audio per
    second; parts read from the cache and images a vision model took as they are cost nothing."""
    cost = 0.0
    for report in reports:
        if report.get("cached") or report.get("path") == "native":
            continue
        if report.get("kind") == "image":
            width, height = report.get("size") or (0, 0)
            cost += width * height / 1e6 * tier.tokens_per_megapixel
        elif report.get("kind") == "audio":
            cost += float(report.get("duration_s") or 0.0) * tier.tokens_per_audio_second
    return math.ceil(cost)


def stream_closed(state: ServerState, turn: PreparedTurn, rate: float) -> None:
    """The stream is over, finished or not: free the slot, and charge a turn that did not get to it."""
    state.release_slot(turn.principal.key_id)
    if not turn.charged:  # closed early: the charge runs on its own, out of the cancelled stream
        state.in_background(charge(state, turn, rate))


def account_usage(state: ServerState, result: TurnResult) -> None:
    usage = result.usage
    m = state.metrics
    mode = mode_ran(result)
    m.turns.labels(mode, "ok").inc()
    m.tokens.labels("prompt").inc(usage.prompt_tokens)
    m.tokens.labels("completion").inc(usage.completion_tokens)
    m.tokens.labels("reasoning").inc(usage.reasoning_tokens)
    if usage.time_to_first_token_s is not None:
        m.time_to_first_token.labels(mode).observe(usage.time_to_first_token_s)


def _completion(turn: PreparedTurn, result: TurnResult) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.text or None}
    if result.reasoning:
        message["reasoning_content"] = result.reasoning
    if result.tool_calls:
        message["tool_calls"] = wire_tool_calls(result.tool_calls)
    others = [
        {
            "index": c["index"],
            "message": {"role": "assistant", "content": c["text"] or None},
            "finish_reason": FINISH_REASONS[c["finish_reason"]],
            "logprobs": None,
        }
        for c in result.details.get("choices", ())
    ]
    return {
        "id": f"chatcmpl-{os.urandom(16).hex()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": turn.request.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": FINISH_REASONS[result.finish_reason],
                "logprobs": _choice_logprobs(turn.request, result),
            },
            *others,
        ],
        "usage": usage_out(result),
        "service_tier": "default",
    }


def _choice_logprobs(request: ChatCompletionRequest, result: TurnResult) -> dict[str, Any] | None:
    """The answer's log probabilities when asked for (``content`` null when the model gave none: a mode
    that merged several passes, or a server that sends none)."""
    if not request.logprobs:
        return None
    return {"content": list(result.logprobs) or None, "refusal": None}


async def _stream(state: ServerState, prepared: PreparedTurn, rate: float) -> AsyncIterator[str]:
    chunk_id, created, model_id = f"chatcmpl-{os.urandom(16).hex()}", int(time.time()), prepared.request.model

    def chunk(
        delta: dict[str, Any] | None,
        finish: str | None = None,
        logprobs: Any = None,
        index: int = 0,
        **extra: Any,
    ) -> str:
        choices = [] if delta is None else [{"index": index, "delta": delta, "finish_reason": finish}]
        if logprobs is not None:
            choices[0]["logprobs"] = logprobs
        body = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model_id,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    request, turn = prepared.request, prepared.turn
    progress = bool(request.progress)
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    for index in range(request.n or 1):
        yield chunk({"role": "assistant", "content": ""}, index=index)
    streamed_logprobs = False  # the answer's log probabilities went out with its chunks
    try:
        async with asyncio.timeout(state.settings.server.turn_timeout_s):
            async for event in turn.run():
                if isinstance(event, TextDelta):
                    yield chunk({"content": event.text})
                elif isinstance(event, TokenLogprobs) and request.logprobs:
                    streamed_logprobs = True
                    yield chunk({"content": ""}, logprobs={"content": list(event.entries), "refusal": None})
                elif isinstance(event, ChoiceDelta):
                    yield chunk({"content": event.text}, index=event.index)
                elif isinstance(event, ReasoningDelta):
                    yield chunk({"reasoning_content": event.text})
                elif isinstance(event, PerceptionEvent) and progress:
                    yield chunk(None, ponder={"type": "perception", "report": event.report})
                elif isinstance(event, AgentEvent | ToolCallEvent | ToolResultEvent) and progress:
                    yield chunk(None, ponder=_progress(event))
                elif isinstance(event, TurnDone):  # stored in its session already
                    result = event.result
                    await learn_later(state, prepared)
                    await charge(state, prepared, rate, result)
                    account_usage(state, result)
                    if result.tool_calls:
                        calls = [{"index": i, **c} for i, c in enumerate(wire_tool_calls(result.tool_calls))]
                        yield chunk({"tool_calls": calls})
                    for action in pending_actions(
                        event.pending
                    ):  # for the person's client; never the model's
                        yield chunk(None, ponder={"type": "pending_action", "action": action})
                    logprobs = None if streamed_logprobs else _choice_logprobs(request, result)
                    yield chunk({}, FINISH_REASONS[result.finish_reason], logprobs)
                    for other in result.details.get("choices", ()):
                        yield chunk({}, FINISH_REASONS[other["finish_reason"]], index=other["index"])
                    if include_usage:
                        yield chunk(None, usage=usage_out(result))
                    yield "data: [DONE]\n\n"
                    return
    except TimeoutError:
        err = ApiError(504, "The turn took too long and was stopped.", "timeout", "turn_timeout")
        yield f"data: {json.dumps(err.body())}\n\n"
    except ApiError as err:
        yield f"data: {json.dumps(err.body())}\n\n"
    except PonderError as err:
        state.metrics.turns.labels(turn.mode_name, "failed").inc()
        yield f"data: {json.dumps(from_ponder_error(err).body())}\n\n"


def pending_actions(proposals: Sequence[Proposal]) -> list[dict[str, Any]]:
    """The turn's proposed actions as the API client gets them: with the token that confirms each (POST
    /v1/actions/{id}/confirm), which only this response carries; or, for a customer the conversation
    identified (``held``), without it: the store holds it for the customer's own surfaces."""
    return [
        action_json(p.action)
        | (
            {"held": True}
            if p.held
            else {"token": p.token, "confirm_url": f"/v1/actions/{p.action.id}/confirm"}
        )
        for p in proposals
    ]


def _progress(event: AgentEvent | ToolCallEvent | ToolResultEvent) -> dict[str, Any]:
    if isinstance(event, AgentEvent):
        return {
            "type": "agent",
            "agent": event.agent,
            "status": event.status,
            "tokens": event.tokens,
            "answer": event.answer,
            "detail": event.detail,
        }
    if isinstance(event, ToolCallEvent):
        c = event.call
        return {
            "type": "tool_call",
            "agent": event.agent,
            "id": c.call_id,
            "name": c.name,
            "arguments": c.arguments,
        }
    r = event.result
    return {
        "type": "tool_result",
        "agent": event.agent,
        "id": r.call_id,
        "name": r.name,
        "content": r.content[:8000],  # enough for a page of search results (the web page's product cards)
        "is_error": r.is_error,
    }


def validation_message(err: ValidationError) -> tuple[str, str | None]:
    """One readable sentence for a body that does not match the schema, and the parameter at fault."""
    problems = err.errors(include_url=False)
    first = problems[0]
    loc = ".".join(
        str(p) for p in first["loc"] if not isinstance(p, str) or not p.startswith(("function-", "tagged-"))
    )
    if first["type"] == "extra_forbidden":
        return f"Unrecognized request argument supplied: {loc}", loc or None
    if first["type"] == "json_invalid":
        return f"The request body is not valid JSON: {first['msg']}", None
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return f"Invalid value for '{loc or 'body'}': {first['msg']}{more}", loc or None
