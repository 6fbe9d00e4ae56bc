"""``POST /v1/chat/completions``: one turn of a reasoning mode, answered whole or streamed as SSE.

The order of checks is the contract: the key (401), the body (400, or 413 past the caps on its shape: both
still cost one request of the key's limit), the limits priced by mode and sub-agents (429), a free turn slot
(503, or 429 past the key's share), memory (the session's history and the facts recalled about the user),
perception, then the turn, under the server's timeout (504). What the model generated counts toward the
key's day, times its mode's price, however the turn ended (finished, failed, timed out, cancelled, or its
stream closed early), and so does perception's work; what the day has left caps what the turn may generate.
A turn that succeeds is stored in its session before the response is sent; what the user stated about
themselves is learned after it, in the background.

Nothing that blocks runs on the event loop: the key's lookup, the limits, parsing the body and building the
turn, memory and perception run in worker threads (large requests' one at a time), so one heavy request
does not hold up the others; a database that stays busy answers 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import jsonschema
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ponder.commerce.tools import Proposal
from ponder.config import TierConfig
from ponder.errors import MediaError, NoSpeechError, PonderError, UserError
from ponder.memory.owner import DEFAULT_USER, Owner
from ponder.memory.service import TurnMemory, reply_of
from ponder.memory.sessions import check_session_id
from ponder.messages import (
    AgentEvent,
    Message,
    ReasoningDelta,
    ResponseDone,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
)
from ponder.models.base import Model, ModelSettings
from ponder.models.metered import MeteredModel
from ponder.models.openai_compat import wire_tool_calls
from ponder.modes import MODE_NAMES, ModeOptions, get_mode
from ponder.modes.base import Mode
from ponder.modes.router import route
from ponder.perception import has_media
from ponder.server.auth import Principal, admission, admit, authenticate
from ponder.server.errors import ApiError, from_ponder_error
from ponder.server.protocol import ChatCompletionRequest
from ponder.server.shape import check_shape, scan_body
from ponder.server.state import ServerState
from ponder.server.streaming import ClientGone, EventStream, run_until_disconnect
from ponder.server.translate import FINISH_REASONS, mode_ran, to_messages, usage_out
from ponder.sharing import LARGE_REQUEST_BYTES, large_work
from ponder.tools.base import Tool
from ponder.tools.runner import ToolRunner
from ponder.turn import TurnResult, run_turn

__all__ = ["MODE_MODELS", "chat_completions", "validation_message"]

log = logging.getLogger("ponder.server")
MODE_MODELS = {f"ponder-{name}": name for name in MODE_NAMES}  # model id -> mode, on the default model
T = TypeVar("T")


@dataclass
class PreparedTurn:
    request: ChatCompletionRequest
    principal: Principal
    mode: Mode
    priced_mode: str  # the mode the request is priced as (auto: the router's pick)
    model_spec: str
    messages: list[Message]
    settings: ModelSettings
    perception: list[dict[str, Any]] = field(default_factory=list)  # what perception did, per part
    session_id: str | None = None  # X-Ponder-Session or session_id
    memory: TurnMemory | None = None  # what memory prepared (history, recalled facts); set by _recall
    proposals: list[Proposal] = field(default_factory=list)  # shopping: actions awaiting the person
    meter: MeteredModel | None = None  # the model, counting what the turn spends; set once admitted
    charged: bool = False  # the turn's tokens were taken from the key's day
    body_bytes: int = 0  # the request's size: a large one's work in threads takes turns with the others'


async def chat_completions(state: ServerState, request: Request) -> Response:
    principal = await authenticate(state, request.headers.get("authorization"))
    request.scope["state"]["account"] = principal.account
    body = await request.body()
    try:
        turn = await _in_thread(state, len(body), prepare, state, principal, body)
        turn.body_bytes = len(body)
        turn.session_id = _session_id(turn.request, request.headers.get("x-ponder-session"))
    except ApiError:
        await admit(state, principal, 1.0)  # a failed request still counts (and a 429 wins over the 400)
        raise
    price = principal.tier.price(turn.priced_mode, turn.request.agents or state.settings.agents)
    admitted = await admission(state, principal, price)
    headers, key_id = admitted.headers, principal.key_id
    rate = principal.tier.token_price(turn.priced_mode)
    left = admitted.tokens_left
    allowance = None if left is None or rate <= 0 else int(left // rate)  # tokens the turn may still spend
    if turn.request.stream:
        state.take_slot(key_id)
        try:  # before the stream starts, so that a broken image or clip gets its own status code
            turn.meter = MeteredModel(_model(state, turn), allowance)
            await _recall(state, turn)
            await _perceive(state, turn)
        except BaseException:
            state.release_slot(key_id)
            await _charge(state, turn, rate)
            raise
        return EventStream(
            _stream(state, turn, rate), headers=headers, on_close=lambda: _stream_closed(state, turn, rate)
        )
    result: TurnResult | None = None
    async with state.turn_slot(key_id):
        try:
            turn.meter = MeteredModel(_model(state, turn), allowance)
            await _recall(state, turn)
            await _perceive(state, turn)
            result = await run_until_disconnect(
                request, _timed(state, run_turn(turn.mode, turn.meter, turn.messages, turn.settings))
            )
            result = _with_perception(turn, result)
            await _remember(state, turn, result)
        except ClientGone:
            state.metrics.turns.labels(turn.priced_mode, "cancelled").inc()
            return Response(status_code=499)
        except PonderError as err:
            state.metrics.turns.labels(turn.priced_mode, "failed").inc()
            raise from_ponder_error(err) from err
        finally:
            await _charge(state, turn, rate, result)
    assert result is not None
    _account(state, result)
    completion = _completion(turn, result)
    if turn.proposals:
        completion["ponder"] = {"pending_actions": _pending(turn)}
    return JSONResponse(completion, headers=headers)


def prepare(state: ServerState, principal: Principal, body: bytes) -> PreparedTurn:
    """Parse and check the request, and build its mode; every problem is an ApiError (400/404/413).

    Blocking (a large body takes a while to scan and parse, a shopping turn reads its store): run it in a
    worker thread."""
    caps = state.settings.server
    scan_body(body, caps)
    try:
        request = ChatCompletionRequest.model_validate_json(body)
    except ValidationError as err:
        message, param = validation_message(err)
        raise ApiError(400, message, param=param) from None
    check_shape(request, caps)
    spec, mode_name = _target(state, request)
    messages = to_messages(request.messages)
    if messages[-1].role not in ("user", "tool"):
        raise ApiError(400, "The last message must be from the user (or a tool result).", param="messages")
    principal = replace(principal, user=request.user)
    runner = _tools(state, request)
    s = state.settings
    proposals: list[Proposal] = []
    try:
        options = ModeOptions(
            system_prompt=s.system_prompt,
            budget=request.budget or s.budget,
            effort=request.reasoning_effort or s.reasoning_effort,
            agents=request.agents or s.agents,
            adaptive=s.adaptive,
            tools=runner,
            sandbox=state.sandbox,
        )
        if mode_name == "shopping":
            from ponder.commerce.mode import shopping_options

            customer = Owner(principal.account, request.user or DEFAULT_USER)
            options = shopping_options(state.shop, customer, options, proposals)
        mode = get_mode(mode_name, options)
    except UserError as err:
        raise from_ponder_error(err) from None
    stop = request.stop if isinstance(request.stop, list) else [request.stop] if request.stop else []
    settings = ModelSettings(
        max_tokens=request.max_completion_tokens or request.max_tokens or s.max_tokens,
        temperature=s.temperature if request.temperature is None else request.temperature,
        top_p=0.95 if request.top_p is None else request.top_p,
        seed=request.seed if request.seed is not None else s.seed,
        stop=tuple(stop),
        tool_choice="auto" if request.tool_choice in (None, "auto", "none") else "required",
    )
    priced = route(messages)[0] if mode_name in ("auto", "shopping") else mode_name
    return PreparedTurn(request, principal, mode, priced, spec, messages, settings, proposals=proposals)


async def _in_thread(state: ServerState, size: int, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
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


def _target(state: ServerState, request: ChatCompletionRequest) -> tuple[str, str]:
    """(model spec, mode) that ``model`` and ``mode`` name together."""
    fixed = MODE_MODELS.get(request.model)
    if fixed is not None:
        if request.mode is not None and request.mode != fixed:
            raise ApiError(
                400,
                f"model '{request.model}' is the {fixed} mode, but mode '{request.mode}' was asked for: "
                f"drop one, or use model '{state.settings.model}' with a mode.",
                param="mode",
            )
        return state.settings.model, fixed
    if request.model != state.settings.model and request.model not in state.settings.models:
        known = [*MODE_MODELS, state.settings.model, *sorted(state.settings.models)]
        raise ApiError(
            404,
            f"The model '{request.model}' does not exist here. Models: {', '.join(known)}.",
            code="model_not_found",
            param="model",
        )
    mode = request.mode or ("thinking" if request.reasoning_effort else state.settings.mode)
    return request.model, mode


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
    tools = [*state.server_tools, *client]
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


async def _recall(state: ServerState, turn: PreparedTurn) -> None:
    """Resume the session and recall what is known about the user; the turn then runs on that."""
    request = turn.request
    try:
        owner = Owner(turn.principal.account, request.user or DEFAULT_USER, request.project or "")
    except UserError as err:
        raise ApiError(400, str(err), param="project" if request.project else "user") from None
    context = state.settings.context_length - turn.settings.max_tokens
    try:
        turn.memory = await _in_thread(
            state,
            turn.body_bytes,
            state.memory.before_turn,
            owner,
            turn.session_id,
            turn.messages,
            max(context, 0),
            enabled=request.memory is not False,
        )
    except PonderError as err:
        raise from_ponder_error(err) from err
    turn.messages = turn.memory.messages


async def _remember(state: ServerState, turn: PreparedTurn, result: TurnResult) -> None:
    """Store the turn in its session, report what memory did, and learn from it after the response."""
    memory = turn.memory
    if memory is None:
        return
    count = len(memory.new)
    heard = turn.messages[len(turn.messages) - count :] if turn.perception and count else None
    await _in_thread(
        state,
        turn.body_bytes,
        state.memory.after_turn,
        memory,
        reply_of(result.text, result.tool_calls),
        perceived=heard,
        mode=mode_ran(result),
        model=result.model,
        usage={
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
        },
    )
    result.details["memory"] = memory.report()
    if memory.enabled and state.settings.memory.extract:
        state.in_background(_learn(state, turn))


async def _learn(state: ServerState, turn: PreparedTurn) -> None:
    assert turn.memory is not None
    try:
        await state.memory.learn(turn.memory, _model(state, turn))
    except Exception:  # learning is best effort: the answer was delivered; the log has why it failed
        log.exception("learning from a turn failed")


async def _perceive(state: ServerState, turn: PreparedTurn) -> None:
    """Images and audio to text (or images kept for a vision model), in place; errors are ApiErrors."""
    if state.perception is None or not has_media(turn.messages):
        return
    model = _model(state, turn)
    started = time.perf_counter()
    try:
        turn.messages, turn.perception = await state.perception.perceive(
            turn.messages, native_images=model.accepts_images, scope=turn.principal.account
        )
    except NoSpeechError as err:
        raise ApiError(400, str(err), code="no_speech", param="messages") from None
    except MediaError as err:
        raise ApiError(400, str(err), code="invalid_media", param="messages") from None
    except PonderError as err:
        raise from_ponder_error(err) from err
    state.metrics.perception_seconds.observe(time.perf_counter() - started)


def _with_perception(turn: PreparedTurn, result: TurnResult) -> TurnResult:
    if not turn.perception:
        return result
    return replace(result, details={**result.details, "perception": turn.perception})


def _model(state: ServerState, turn: PreparedTurn) -> Model:
    try:
        return state.model(turn.model_spec)
    except PonderError as err:
        raise from_ponder_error(err) from err


async def _timed(state: ServerState, work: Any) -> TurnResult:
    limit = state.settings.server.turn_timeout_s
    try:
        async with asyncio.timeout(limit):
            result: TurnResult = await work
            return result
    except TimeoutError:
        raise ApiError(
            504, f"The turn took longer than {limit:g} s and was stopped.", "timeout", "turn_timeout"
        ) from None


async def _charge(
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
    tokens = round(generated * rate) + perception_tokens(turn.principal.tier, turn.perception)
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


def _stream_closed(state: ServerState, turn: PreparedTurn, rate: float) -> None:
    """The stream is over, finished or not: free the slot, and charge a turn that did not get to it."""
    state.release_slot(turn.principal.key_id)
    if not turn.charged:  # closed early: the charge runs on its own, out of the cancelled stream
        state.in_background(_charge(state, turn, rate))


def _account(state: ServerState, result: TurnResult) -> None:
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
                "logprobs": None,
            }
        ],
        "usage": usage_out(result),
    }


async def _stream(state: ServerState, turn: PreparedTurn, rate: float) -> AsyncIterator[str]:
    chunk_id, created, model_id = f"chatcmpl-{os.urandom(16).hex()}", int(time.time()), turn.request.model

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        body = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model_id,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    progress = bool(turn.request.progress)
    include_usage = bool(turn.request.stream_options and turn.request.stream_options.include_usage)
    yield chunk({"role": "assistant", "content": ""})
    if progress:
        for report in turn.perception:
            yield chunk(None, ponder={"type": "perception", "report": report})
    try:
        async with asyncio.timeout(state.settings.server.turn_timeout_s):
            assert turn.meter is not None
            async for event in turn.mode.run(turn.meter, turn.messages, turn.settings):
                if isinstance(event, TextDelta):
                    yield chunk({"content": event.text})
                elif isinstance(event, ReasoningDelta):
                    yield chunk({"reasoning_content": event.text})
                elif isinstance(event, AgentEvent | ToolCallEvent | ToolResultEvent) and progress:
                    yield chunk(None, ponder=_progress(event))
                elif isinstance(event, ResponseDone):
                    result = _with_perception(turn, TurnResult.from_response(event.response, turn.mode.name))
                    await _remember(state, turn, result)
                    await _charge(state, turn, rate, result)
                    _account(state, result)
                    if result.tool_calls:
                        calls = [{"index": i, **c} for i, c in enumerate(wire_tool_calls(result.tool_calls))]
                        yield chunk({"tool_calls": calls})
                    for action in _pending(turn):  # for the person's client; the model never saw these
                        yield chunk(None, ponder={"type": "pending_action", "action": action})
                    yield chunk({}, FINISH_REASONS[result.finish_reason])
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
        state.metrics.turns.labels(turn.priced_mode, "failed").inc()
        yield f"data: {json.dumps(from_ponder_error(err).body())}\n\n"


def _pending(turn: PreparedTurn) -> list[dict[str, Any]]:
    """The turn's proposed actions as the API client gets them: with the token that confirms each (POST
    /v1/actions/{id}/confirm), which only this response carries."""
    return [
        p.action.to_dict() | {"token": p.token, "confirm_url": f"/v1/actions/{p.action.id}/confirm"}
        for p in turn.proposals
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
