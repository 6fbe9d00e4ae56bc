"""The Responses API's wire format, both ways: a request's items as chat messages, a turn's result as a
response object.

Inbound, a Responses request becomes the chat request it stands for (``to_chat_request``), so the chat
route's own preparation (``server/chat.py``'s ``prepare``: model and mode, settings, tools, structured
output, the turn) runs it: ``instructions`` is a system message before the input, each message item a chat
message, ``function_call`` items an assistant message's tool calls, ``function_call_output`` items tool
messages, ``text.format`` the ``response_format``, ``reasoning.effort`` the ``reasoning_effort``,
``max_output_tokens`` the ``max_completion_tokens``. What Ponder does not serve (hosted tools, files by id,
item references, background mode) is a 400 naming it. Outbound, ``response_object`` and the ``*_item``
functions build the shapes of the ``openai`` SDK's ``types/responses``.

It does not run, store or stream turns (server/responses.py does), nor check media (translate.py does, on
the chat messages this module makes).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ponder.messages import Message
from ponder.models.openai_compat import wire_tool_calls
from ponder.server.chat import validation_message
from ponder.server.errors import ApiError
from ponder.server.protocol import (
    AssistantMessage,
    AudioContent,
    ChatCompletionRequest,
    ChatMessage,
    FunctionCall,
    ImageContent,
    ImageUrl,
    InputAudio,
    SystemMessage,
    TextContent,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from ponder.server.responses_protocol import (
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    InputImagePart,
    InputMessage,
    InputTextPart,
    OutputTextPart,
    ReasoningItem,
    RefusalPart,
    ResponsesRequest,
)
from ponder.server.translate import to_messages, usage_out
from ponder.turn import TurnResult

__all__ = [
    "Echo",
    "client_param",
    "function_call_item",
    "function_call_items",
    "input_items",
    "message_item",
    "new_id",
    "output_of",
    "reasoning_item",
    "response_object",
    "status_of",
    "to_chat_request",
    "to_messages_after",
    "to_wire",
    "usage_object",
]

# A chat error's parameter -> the Responses request's (the chat request is this module's, not the client's).
_PARAMS = {
    "messages": "input",
    "response_format": "text.format",
    "max_completion_tokens": "max_output_tokens",
    "reasoning_effort": "reasoning.effort",
}


_MESSAGE_AT = re.compile(r"messages\[(\d+)\]")  # a chat message named in an error


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(16).hex()}"


def client_param(err: ApiError, places: Sequence[str] = ()) -> ApiError:
    """``err`` with its parameter named as the Responses request names it; ``places``: where each chat
    message came from (``to_wire``), for an error about ``messages[k]``."""

    def place(found: re.Match[str]) -> str:
        k = int(found[1])
        return places[k] if k < len(places) else found[0]

    if places:
        err.message = _MESSAGE_AT.sub(place, err.message)
        err.param = None if err.param is None else _MESSAGE_AT.sub(place, err.param)
    if err.param is not None:
        head = err.param.split("[", 1)[0].split(".", 1)[0]
        if head in _PARAMS:
            err.param = _PARAMS[head]
    return err


def to_wire(request: ResponsesRequest) -> tuple[list[ChatMessage], list[str]]:
    """The request's instructions and input as chat messages (consecutive function calls in one assistant
    message, as chat has parallel calls), and where in the request each came from; a 400 for what cannot be
    said in them."""
    out: list[ChatMessage] = []
    places: list[str] = []
    if request.instructions:
        out.append(SystemMessage(role="system", content=request.instructions))
        places.append("instructions")
    if isinstance(request.input, str):
        out.append(UserMessage(role="user", content=request.input))
        places.append("input")
    for index, item in enumerate(() if isinstance(request.input, str) else request.input):
        where = f"input[{index}]"
        if isinstance(item, InputMessage):
            out.append(_message(item, where))
        elif isinstance(item, FunctionCallItem):
            call = ToolCall(
                id=item.call_id,
                type="function",
                function=FunctionCall(name=item.name, arguments=item.arguments),
            )
            last = out[-1] if out else None
            if isinstance(last, AssistantMessage) and (last.tool_calls or not last.content):
                last.tool_calls = [*(last.tool_calls or []), call]
                continue
            out.append(AssistantMessage(role="assistant", tool_calls=[call]))
        elif isinstance(item, FunctionCallOutputItem):
            text = item.output if isinstance(item.output, str) else _text(item.output, f"{where}.output")
            out.append(ToolMessage(role="tool", content=text, tool_call_id=item.call_id))
        elif isinstance(item, ReasoningItem):  # earlier reasoning is not sent back to the model
            continue
        else:
            raise ApiError(
                400,
                f"{where}: items of type '{item.type}' are not supported: send messages, function_call and "
                "function_call_output items.",
                code="unsupported_item",
                param=where,
            )
        places.append(where)
    if not out or all(isinstance(m, SystemMessage) for m in out):
        raise ApiError(400, "The input holds no message to answer.", param="input")
    return out, places


def _message(item: InputMessage, where: str) -> ChatMessage:
    content = item.content
    if item.role in ("system", "developer"):
        return SystemMessage(
            role="system", content=content if isinstance(content, str) else _text(content, where)
        )
    if item.role == "assistant":
        return AssistantMessage(
            role="assistant", content=content if isinstance(content, str) else _text(content, where)
        )
    if isinstance(content, str):
        return UserMessage(role="user", content=content)
    return UserMessage(
        role="user", content=[_user_part(p, f"{where}.content[{i}]") for i, p in enumerate(content)]
    )


def _text(parts: Sequence[ContentPart], where: str) -> str:
    """The text of parts that may only hold text (system and assistant messages, tool outputs)."""
    texts = []
    for i, part in enumerate(parts):
        if isinstance(part, InputTextPart | OutputTextPart):
            texts.append(part.text)
        elif isinstance(part, RefusalPart):
            texts.append(part.refusal)
        else:
            raise ApiError(
                400, f"{where}[{i}]: a '{part.type}' part is not supported here: text only.", param=where
            )
    return "".join(texts)


def _user_part(part: ContentPart, where: str) -> TextContent | ImageContent | AudioContent:
    if isinstance(part, InputTextPart):
        return TextContent(type="text", text=part.text)
    if isinstance(part, InputImagePart):
        if part.image_url is None:
            message = (
                f"{where}: images by file_id are not supported: send image_url (a data URI or an "
                "http(s) URL)."
            )
            raise ApiError(400, message, code="unsupported_file_id", param=where)
        detail = None if part.detail == "original" else part.detail
        return ImageContent(type="image_url", image_url=ImageUrl(url=part.image_url, detail=detail))
    if isinstance(part, InputAudioPart):
        audio = part.input_audio
        return AudioContent(type="input_audio", input_audio=InputAudio(data=audio.data, format=audio.format))
    raise ApiError(
        400,
        f"{where}: '{part.type}' parts are not supported in a user message (input_text, input_image and "
        "input_audio are).",
        param=where,
    )


LOGPROBS = "message.output_text.logprobs"  # what ``include`` names to get the answer's log probabilities


def to_chat_request(
    request: ResponsesRequest, wire: list[ChatMessage], session_id: str | None
) -> ChatCompletionRequest:
    """The chat request ``request`` stands for (``wire``: its messages, image URLs fetched)."""
    if request.background:
        raise ApiError(400, "Background mode is not supported: send background false.", param="background")
    effort = request.reasoning.effort if request.reasoning else None
    fields: dict[str, Any] = {
        "model": request.model,
        "messages": wire,
        "tools": _tools(request.tools),
        "tool_choice": _tool_choice(request.tool_choice),
        "parallel_tool_calls": request.parallel_tool_calls,
        "max_completion_tokens": request.max_output_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "reasoning_effort": effort,  # chat maps minimal to low
        "logprobs": True if LOGPROBS in (request.include or ()) else None,
        "top_logprobs": request.top_logprobs if LOGPROBS in (request.include or ()) else None,
        "user": request.user,
        "response_format": _response_format(request),
        "mode": request.mode,
        "agents": request.agents,
        "budget": request.budget,
        "session_id": session_id,
    }
    try:
        return ChatCompletionRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as err:
        message, param = validation_message(err)
        raise client_param(ApiError(400, message, param=param)) from None


def _tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    out = []
    for index, tool in enumerate(tools):
        kind = tool.get("type")
        if kind != "function":
            raise ApiError(
                400,
                f"tools[{index}]: tools of type '{kind}' are not supported: only function tools (give the "
                "model a search or file tool as a function, or an MCP server on the server).",
                code="unsupported_tool",
                param=f"tools[{index}]",
            )
        function = {k: v for k, v in tool.items() if k != "type"}
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    if choice is None or isinstance(choice, str):
        return choice
    if choice.get("type") == "function" and set(choice) == {"type", "name"}:
        return {"type": "function", "function": {"name": choice["name"]}}
    raise ApiError(
        400,
        f"tool_choice of type '{choice.get('type')}' is not supported: none, auto, required or "
        "{type: function, name}.",
        param="tool_choice",
    )


def _response_format(request: ResponsesRequest) -> dict[str, Any] | None:
    fmt = request.text.format if request.text else None
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "json_object"}
    spec = {"name": fmt.name, "schema": fmt.schema_, "description": fmt.description, "strict": fmt.strict}
    return {"type": "json_schema", "json_schema": {k: v for k, v in spec.items() if v is not None}}


def to_messages_after(wire: list[ChatMessage], calls: dict[str, str]) -> list[Message]:
    """``wire`` as Ponder's messages (checked by chat's translation); ``calls``: call id -> tool name of the
    calls the previous response ended with, which ``function_call_output`` items may answer."""
    if not calls:
        return to_messages(wire)
    earlier = [
        ToolCall(id=i, type="function", function=FunctionCall(name=name, arguments="{}"))
        for i, name in calls.items()
    ]
    # The calls are put before their outputs so that translation finds what each output answers, then taken
    # out again: they are the previous turn's, in its session (or its history) already.
    try:
        return to_messages([AssistantMessage(role="assistant", tool_calls=earlier), *wire])[1:]
    except ApiError as err:  # about messages[k + 1]: wire's messages[k]
        err.message = _MESSAGE_AT.sub(_before, err.message)
        err.param = None if err.param is None else _MESSAGE_AT.sub(_before, err.param)
        raise


def _before(found: re.Match[str]) -> str:
    return f"messages[{int(found[1]) - 1}]"


def input_items(request: ResponsesRequest) -> list[dict[str, Any]]:
    """The request's input as items with ids, for ``GET /v1/responses/{id}/input_items``."""
    if isinstance(request.input, str):
        parts = [{"type": "input_text", "text": request.input}]
        return [
            {"id": new_id("msg"), "type": "message", "role": "user", "content": parts, "status": "completed"}
        ]
    items = []
    for item in request.input:
        data = item.model_dump(mode="json", by_alias=True, exclude_none=True)
        if isinstance(item, InputMessage):
            data["type"] = "message"
            data.setdefault("status", "completed")
            if isinstance(item.content, str):
                kind = "output_text" if item.role == "assistant" else "input_text"
                data["content"] = [{"type": kind, "text": item.content}]
        data.setdefault("id", new_id("item"))
        items.append(data)
    return items


@dataclass
class Echo:
    """What a response object repeats of its request, and its identity."""

    request: ResponsesRequest
    id: str = field(default_factory=lambda: new_id("resp"))
    created_at: int = field(default_factory=lambda: int(time.time()))


def response_object(
    echo: Echo,
    status: str,
    output: list[dict[str, Any]],
    result: TurnResult | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    r = echo.request
    text_format: dict[str, Any] = {"type": "text"}
    if r.text is not None and r.text.format is not None:
        text_format = r.text.format.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {
        "id": echo.id,
        "object": "response",
        "created_at": echo.created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": r.instructions,
        "max_output_tokens": r.max_output_tokens,
        "model": r.model,
        "output": output,
        "parallel_tool_calls": r.parallel_tool_calls is not False,
        "previous_response_id": r.previous_response_id,
        "reasoning": {
            "effort": r.reasoning.effort if r.reasoning else None,
            "summary": r.reasoning.summary if r.reasoning else None,
        },
        "service_tier": "default",
        "store": r.store is not False,
        "temperature": r.temperature,
        "text": {"format": text_format},
        "tool_choice": r.tool_choice or "auto",
        "tools": list(r.tools or ()),
        "top_p": r.top_p,
        "truncation": r.truncation or "disabled",
        "usage": None if result is None else usage_object(result),
        "user": r.user,
        "metadata": r.metadata or {},
    }


def usage_object(result: TurnResult) -> dict[str, Any]:
    chat = usage_out(result)
    return {
        "input_tokens": chat["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": chat["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": chat["completion_tokens_details"]["reasoning_tokens"]},
        "total_tokens": chat["total_tokens"],
        "ponder": chat["ponder"],
    }


def reasoning_item(item_id: str, text: str | None) -> dict[str, Any]:
    """``text`` None: the item as it opens in a stream, before its summary."""
    summary = [] if text is None else [{"type": "summary_text", "text": text}]
    return {"id": item_id, "type": "reasoning", "summary": summary}


def message_item(
    item_id: str, text: str | None, status: str = "completed", logprobs: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """``text`` None: the item as it opens in a stream, before its content. ``logprobs``: the answer's
    tokens, when ``include`` asked for ``message.output_text.logprobs``."""
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": list(logprobs)}
    content = [] if text is None else [part]
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def function_call_items(result: TurnResult) -> list[dict[str, Any]]:
    return [
        function_call_item(new_id("fc"), c["id"], c["function"]["name"], c["function"]["arguments"])
        for c in wire_tool_calls(result.tool_calls)
    ]


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def status_of(result: TurnResult) -> str:
    return "incomplete" if result.finish_reason == "length" else "completed"


def output_of(result: TurnResult) -> list[dict[str, Any]]:
    """A finished turn's output items: its reasoning, its answer, the calls for the client to run."""
    items = []
    if result.reasoning:
        items.append(reasoning_item(new_id("rs"), result.reasoning))
    if result.text or not result.tool_calls:
        items.append(message_item(new_id("msg"), result.text, status_of(result), result.logprobs))
    return [*items, *function_call_items(result)]
