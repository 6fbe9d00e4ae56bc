"""``POST /v1/responses`` (OpenAI's Responses API), answered whole or streamed as typed events; ``GET`` and
``DELETE /v1/responses/{id}`` and its input items.

A thin translation onto the chat route's turn: the request becomes the chat request it stands for
(``responses_wire``), and chat.py's functions do the rest in chat's order: the key, the body, image URLs,
``prepare`` (mode, settings, tools, structured output, the runner's turn), admission priced by mode, a turn
slot, the turn under the server's timeout, cancelled when the client goes away, its tokens charged however
it ended, learning after it. This module adds what is the Responses API's own: the response object and its
stream of events, and the stored responses.

``store`` (the default) keeps the turn in a session of the user's (``s_`` + 16 hex, listed with the other
sessions) and the response in ``store/responses.py``; ``previous_response_id`` continues that session, so
the client sends only the new input. Continuing a response that later ones already continued starts a new
session holding its history up to that response (a branch); ``store: false`` runs the turn on that history
without storing anything. A failed turn is not stored.

It does not build chat completions (chat.py) or check media (translate.py, perception).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ponder.conversation import TurnDone
from ponder.errors import PonderError, UserError
from ponder.memory.owner import DEFAULT_USER, Owner
from ponder.memory.sessions import new_session_id
from ponder.messages import Message, ReasoningDelta, TextDelta
from ponder.server.auth import Principal, admission_now, identify
from ponder.server.chat import (
    Begun,
    PreparedTurn,
    account_usage,
    admit_turn,
    charge,
    complete_turn,
    count_refused,
    in_thread,
    learn_later,
    pending_actions,
    prepare,
    start_streamed,
    stream_closed,
    turn_price,
    validation_message,
)
from ponder.server.errors import ApiError, from_ponder_error
from ponder.server.image_fetch import inline_image_urls
from ponder.server.responses_protocol import ResponsesRequest
from ponder.server.responses_wire import (
    Echo,
    client_param,
    function_call_item,
    input_items,
    message_item,
    new_id,
    output_of,
    reasoning_item,
    response_object,
    status_of,
    to_chat_request,
    to_messages_after,
    to_wire,
)
from ponder.server.shape import check_shape, scan_body
from ponder.server.state import ServerState
from ponder.server.streaming import EventStream
from ponder.store.responses import ResponseStore, StoredResponse
from ponder.turn import TurnResult

__all__ = ["create_response", "delete_response", "get_response", "list_input_items"]


@dataclass
class _Prepared:
    turn: PreparedTurn
    echo: Echo
    owner: Owner
    items: list[dict[str, Any]]  # the input items, with ids, as stored
    size: int  # the body's bytes
    session_id: str | None  # where the turn is stored; None: store false
    sequence: int = 0  # the stream's next sequence_number
    output: list[dict[str, Any]] = field(default_factory=list)  # items streamed and done


async def create_response(state: ServerState, request: Request) -> Response:
    body = await request.body()
    begun = Begun()
    places: list[str] = []  # where in the request each chat message came from

    def parse() -> tuple[ResponsesRequest, list[Any]]:
        begun.principal = identify(state, request.headers.get("authorization"))
        parsed = parse_request(state, body)
        wire, where = to_wire(parsed)
        places.extend(where)
        return parsed, wire

    def begin(parsed: ResponsesRequest, wire: list[Any]) -> _Prepared:
        assert begun.principal is not None
        prepared = _prepare(state, begun.principal, parsed, wire, len(body))
        begun.counted = True
        begun.admitted = admission_now(state, begun.principal, turn_price(state, prepared.turn))
        if begun.admitted is not None:
            try:
                prepared.turn.turn.resume()
            except PonderError as err:
                raise from_ponder_error(err) from err
        return prepared

    try:
        parsed, wire = await in_thread(state, len(body), parse)
        wire = await inline_image_urls(wire, state.image_fetcher)
        await state.server_tools.current()  # listed again if older than [server] tools_refresh_s
        prepared = await in_thread(state, len(body), begin, parsed, wire)
    except ApiError as err:
        await count_refused(state, request, begun)
        raise client_param(err, places) from None
    chat = prepared.turn
    turn = chat.turn
    headers, rate, allowance = await admit_turn(state, request, chat, begun)
    if parsed.stream:
        await start_streamed(state, chat, rate, allowance)
        return EventStream(
            _stream(state, prepared, rate), headers=headers, on_close=lambda: stream_closed(state, chat, rate)
        )
    result = await complete_turn(state, request, chat, rate, allowance)
    if isinstance(result, Response):
        return result
    response = response_object(prepared.echo, status_of(result), output_of(result), result)
    try:
        await _keep(state, prepared, response, result)
    except PonderError as err:  # a database that stays busy: 503 with Retry-After
        raise from_ponder_error(err) from err
    if turn.proposals:
        response["ponder"] = {"pending_actions": pending_actions(turn.proposals)}
    return JSONResponse(response, headers=headers)


def parse_request(state: ServerState, body: bytes) -> ResponsesRequest:
    """Parse and check the body; every problem is an ApiError (400/413). Blocking: run it in a thread."""
    scan_body(body, state.settings.server)
    try:
        return ResponsesRequest.model_validate_json(body)
    except ValidationError as err:
        message, param = validation_message(err)
        raise ApiError(400, message, param=param) from None


def _prepare(
    state: ServerState, principal: Principal, request: ResponsesRequest, wire: list[Any], size: int
) -> _Prepared:
    """The chat turn the request stands for, on the history of ``previous_response_id`` (blocking)."""
    try:
        owner = Owner(principal.account, request.user or DEFAULT_USER)
    except UserError as err:
        raise ApiError(400, str(err), param="user") from None
    store = request.store is not False
    previous = _previous(state, owner, request.previous_response_id)
    history: list[Message] = []
    session_id = new_session_id() if store else None
    if previous is not None:
        if store and previous.latest:
            session_id = previous.session_id  # the session's history comes before the new input
        else:  # a branch (stored in a new session), or not stored at all: the history up to it, sent along
            try:
                stored = state.memory.sessions.history(owner, previous.session_id)
            except PonderError as err:  # its session was deleted since
                raise from_ponder_error(err) from None
            history = [m.message for m in stored if m.turn <= previous.turn]
    chat = to_chat_request(request, wire, session_id)
    check_shape(chat, state.settings.server)
    calls = {
        i["call_id"]: i["name"]
        for i in (previous.body["output"] if previous else ())
        if i["type"] == "function_call"
    }
    messages = [*history, *to_messages_after(wire, calls)]
    prepared = prepare(state, principal, chat, size, None, messages)
    return _Prepared(prepared, Echo(request), owner, input_items(request), size, session_id)


def _previous(state: ServerState, owner: Owner, response_id: str | None) -> StoredResponse | None:
    if response_id is None:
        return None
    found = ResponseStore(state.db).get(owner.account, response_id)
    if found is None or found.user != owner.user:
        raise _not_found(response_id, "previous_response_id")
    return found


def _not_found(response_id: str, param: str | None = None) -> ApiError:
    message = f"Response with id '{response_id}' not found."
    return ApiError(404, message, "invalid_request_error", "not_found", param)


async def _keep(
    state: ServerState, prepared: _Prepared, response: dict[str, Any], result: TurnResult
) -> None:
    """Store the response of a stored turn (its session already holds the turn)."""
    memory = result.details.get("memory") or {}
    if prepared.session_id is None or memory.get("turn") is None:
        return
    store = ResponseStore(state.db)
    await in_thread(
        state,
        prepared.size,
        store.save,
        prepared.owner,
        prepared.session_id,
        memory["turn"],
        response,
        prepared.items,
    )


async def _stream(state: ServerState, prepared: _Prepared, rate: float) -> AsyncIterator[str]:
    chat, echo = prepared.turn, prepared.echo
    turn = chat.turn

    def event(kind: str, **fields: Any) -> str:
        data = {"type": kind, "sequence_number": prepared.sequence, **fields}
        prepared.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    started = response_object(echo, "in_progress", [])
    yield event("response.created", response=started)
    yield event("response.in_progress", response=started)
    reasoning: _Open | None = None
    message: _Open | None = None
    try:
        async with asyncio.timeout(state.settings.server.turn_timeout_s):
            async for ev in turn.run():
                if isinstance(ev, ReasoningDelta) and message is None:
                    if reasoning is None:
                        reasoning = _Open(new_id("rs"), len(prepared.output))
                        for chunk in reasoning.open_reasoning(event):
                            yield chunk
                    reasoning.text += ev.text
                    yield event(
                        "response.reasoning_summary_text.delta",
                        **reasoning.at,
                        summary_index=0,
                        delta=ev.text,
                    )
                elif isinstance(ev, TextDelta):
                    if reasoning is not None and not reasoning.done:
                        for chunk in reasoning.close_reasoning(event, prepared.output):
                            yield chunk
                    if message is None:
                        message = _Open(new_id("msg"), len(prepared.output))
                        for chunk in message.open_message(event):
                            yield chunk
                    message.text += ev.text
                    yield event(
                        "response.output_text.delta",
                        **message.at,
                        content_index=0,
                        delta=ev.text,
                        logprobs=[],
                    )
                elif isinstance(ev, TurnDone):  # stored in its session already
                    result = ev.result
                    await learn_later(state, chat)
                    await charge(state, chat, rate, result)
                    account_usage(state, result)
                    for chunk in _finish(event, prepared, result, reasoning, message):
                        yield chunk
                    status = status_of(result)
                    response = response_object(echo, status, prepared.output, result)
                    await _keep(state, prepared, response, result)
                    if ev.pending:
                        response["ponder"] = {"pending_actions": pending_actions(ev.pending)}
                    yield event(f"response.{status}", response=response)
                    return
    except TimeoutError:
        err = ApiError(504, "The turn took too long and was stopped.", "timeout", "turn_timeout")
        for chunk in _failed(event, echo, prepared, err):
            yield chunk
    except ApiError as err:
        for chunk in _failed(event, echo, prepared, err):
            yield chunk
    except PonderError as err:
        state.metrics.turns.labels(turn.mode_name, "failed").inc()
        for chunk in _failed(event, echo, prepared, from_ponder_error(err)):
            yield chunk


@dataclass
class _Open:
    """An output item being streamed: its id, its place in the output, its text so far."""

    id: str
    index: int
    text: str = ""
    done: bool = False

    @property
    def at(self) -> dict[str, Any]:
        return {"item_id": self.id, "output_index": self.index}

    def open_reasoning(self, event: Any) -> list[str]:
        part = {"type": "summary_text", "text": ""}
        return [
            event("response.output_item.added", output_index=self.index, item=reasoning_item(self.id, None)),
            event("response.reasoning_summary_part.added", **self.at, summary_index=0, part=part),
        ]

    def close_reasoning(self, event: Any, output: list[dict[str, Any]]) -> list[str]:
        self.done = True
        item = reasoning_item(self.id, self.text)
        output.append(item)
        part = {"type": "summary_text", "text": self.text}
        return [
            event("response.reasoning_summary_text.done", **self.at, summary_index=0, text=self.text),
            event("response.reasoning_summary_part.done", **self.at, summary_index=0, part=part),
            event("response.output_item.done", output_index=self.index, item=item),
        ]

    def open_message(self, event: Any) -> list[str]:
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return [
            event(
                "response.output_item.added",
                output_index=self.index,
                item=message_item(self.id, None, "in_progress"),
            ),
            event("response.content_part.added", **self.at, content_index=0, part=part),
        ]

    def close_message(
        self,
        event: Any,
        output: list[dict[str, Any]],
        text: str,
        status: str,
        logprobs: Sequence[dict[str, Any]] = (),
    ) -> list[str]:
        self.done = True
        item = message_item(self.id, text, status, logprobs)
        output.append(item)
        logged = list(logprobs)
        return [
            event("response.output_text.done", **self.at, content_index=0, text=text, logprobs=logged),
            event("response.content_part.done", **self.at, content_index=0, part=item["content"][0]),
            event("response.output_item.done", output_index=self.index, item=item),
        ]


def _finish(
    event: Any, prepared: _Prepared, result: TurnResult, reasoning: _Open | None, message: _Open | None
) -> list[str]:
    """The events that close the output: the reasoning and the answer (opened here if nothing streamed
    them), then the function calls for the client to run, each whole."""
    out, chunks = prepared.output, []
    if reasoning is None and result.reasoning and message is None:
        reasoning = _Open(new_id("rs"), len(out), result.reasoning)
        chunks += reasoning.open_reasoning(event)
    if reasoning is not None and not reasoning.done:
        chunks += reasoning.close_reasoning(event, out)
    if message is None and (result.text or not result.tool_calls):
        message = _Open(new_id("msg"), len(out))
        chunks += message.open_message(event)
    if message is not None:
        chunks += message.close_message(event, out, result.text, status_of(result), result.logprobs)
    for call in output_of(result):
        if call["type"] != "function_call":
            continue
        index = len(out)
        at = {"item_id": call["id"], "output_index": index}
        opened = function_call_item(call["id"], call["call_id"], call["name"], "", "in_progress")
        chunks += [
            event("response.output_item.added", output_index=index, item=opened),
            event("response.function_call_arguments.delta", **at, delta=call["arguments"]),
            event(
                "response.function_call_arguments.done", **at, name=call["name"], arguments=call["arguments"]
            ),
            event("response.output_item.done", output_index=index, item=call),
        ]
        out.append(call)
    return chunks


def _failed(event: Any, echo: Echo, prepared: _Prepared, err: ApiError) -> list[str]:
    code = err.code or err.type
    error = {"code": code, "message": err.message}
    return [
        event("error", code=code, message=err.message, param=err.param),
        event("response.failed", response=response_object(echo, "failed", prepared.output, error=error)),
    ]


def get_response(state: ServerState, account: str, response_id: str) -> dict[str, Any]:
    """The account's stored response (blocking: run it in a thread); a 404 when there is none."""
    found = ResponseStore(state.db).get(account, response_id)
    if found is None:
        raise _not_found(response_id)
    return found.body


def list_input_items(state: ServerState, account: str, response_id: str) -> dict[str, Any]:
    """The input items of the account's stored response, as a list page (blocking)."""
    found = ResponseStore(state.db).get(account, response_id)
    if found is None:
        raise _not_found(response_id)
    items = found.input
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": False,
    }


def delete_response(state: ServerState, account: str, response_id: str) -> dict[str, Any]:
    """Forget the account's stored response (blocking); its turn stays in its session."""
    if not ResponseStore(state.db).delete(account, response_id):
        raise _not_found(response_id)
    return {"id": response_id, "object": "response.deleted", "deleted": True}
