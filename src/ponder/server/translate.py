"""From the OpenAI wire format to Ponder's messages, and from a turn's result back to the wire format.

Inbound, every part is checked here: images must be base64 data URIs of an image type (the surface fetched
``http(s)`` image URLs into data URIs before, with ``ponder.server.image_fetch``), audio base64 in one
of the containers perception reads, both under the size limit (perception then checks the bytes); a tool
message must answer a tool call made earlier in the conversation.
Outbound, only the calls the API client runs itself leave the server as ``tool_calls``; the calls Ponder runs
(the sandbox, MCP servers) are part of the turn and show up as progress, not as calls for the client.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from ponder.messages import (
    AudioPart,
    ImagePart,
    Message,
    Part,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from ponder.server.errors import ApiError
from ponder.server.protocol import (
    AssistantMessage,
    AudioContent,
    ChatMessage,
    ImageContent,
    SystemMessage,
    TextContent,
    ToolMessage,
)
from ponder.sharing import breathing
from ponder.turn import TurnResult

__all__ = [
    "FINISH_REASONS",
    "IMAGE_TYPES",
    "MAX_MEDIA_BYTES",
    "image_part",
    "mode_ran",
    "to_messages",
    "usage_out",
]

MAX_MEDIA_BYTES = 10 * 1024 * 1024  # one image or audio clip, decoded
_DATA_URI = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?:;[\w.+-]+=[\w.+-]+)*;base64,(?P<data>.*)$", re.S)
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
_AUDIO_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
    "webm": "audio/webm",
}
FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "cancelled": "stop"}


def to_messages(messages: list[ChatMessage]) -> list[Message]:
    out: list[Message] = []
    calls: dict[str, str] = {}  # tool call id -> tool name, from the assistant messages so far
    for index, message in enumerate(breathing(messages)):
        where = f"messages[{index}]"
        if isinstance(message, SystemMessage):
            out.append(Message.system(_text(message.content)))
        elif isinstance(message, AssistantMessage):
            parts: list[Part] = []
            if message.content:
                parts.append(TextPart(_text(message.content)))
            for call in message.tool_calls or ():
                parts.append(
                    ToolCallPart(call.id, call.function.name, _arguments(call.function.arguments, where))
                )
                calls[call.id] = call.function.name
            out.append(Message("assistant", tuple(parts)))
        elif isinstance(message, ToolMessage):
            name = calls.get(message.tool_call_id)
            if name is None:
                raise ApiError(
                    400,
                    f"{where} answers tool call '{message.tool_call_id}', which no earlier assistant message "
                    "made.",
                    param=f"{where}.tool_call_id",
                )
            out.append(Message("tool", (ToolResultPart(message.tool_call_id, name, _text(message.content)),)))
        elif isinstance(message.content, str):
            out.append(Message.user(message.content))
        else:
            out.append(
                Message(
                    "user",
                    tuple(_user_part(p, f"{where}.content[{i}]") for i, p in enumerate(message.content)),
                )
            )
    return out


def _text(content: str | list[TextContent]) -> str:
    return content if isinstance(content, str) else "".join(part.text for part in content)


def _arguments(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as err:
        raise ApiError(400, f"{where}: tool call arguments are not valid JSON: {err}", param=where) from None
    if not isinstance(value, dict):
        raise ApiError(400, f"{where}: tool call arguments must be a JSON object.", param=where)
    return value


def _user_part(part: TextContent | ImageContent | AudioContent, where: str) -> Part:
    if isinstance(part, TextContent):
        return TextPart(part.text)
    if isinstance(part, ImageContent):
        return image_part(
            part.image_url.url,
            where,
            "a base64 data URI (data:image/png;base64,...) or, where the server fetches image URLs "
            "([server] image_urls), an http(s) URL",
        )
    return AudioPart(_decode(part.input_audio.data, where), _AUDIO_TYPES[part.input_audio.format])


def image_part(
    url: str, where: str, expected: str = "a base64 data URI (data:image/png;base64,...)"
) -> ImagePart:
    """The image a data URI carries, checked (a type Ponder reads, valid base64, not empty, within the size
    limit); an ApiError (400, 413) naming ``where`` otherwise. ``expected``: what the message asks for."""
    match = _DATA_URI.match(url)
    if match is None:
        raise ApiError(400, f"{where}: image_url must be {expected}.", param=where)
    media_type = match["type"].lower()
    if media_type not in IMAGE_TYPES:
        allowed = ", ".join(sorted(IMAGE_TYPES))
        raise ApiError(400, f"{where}: unsupported image type {media_type}; allowed: {allowed}.", param=where)
    return ImagePart(_decode(match["data"], where), media_type)


def _decode(data: str, where: str) -> bytes:
    if len(data) > MAX_MEDIA_BYTES * 4 // 3 + 4:
        raise ApiError(413, f"{where}: larger than {MAX_MEDIA_BYTES // (1024 * 1024)} MiB.", param=where)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{where}: the data is not valid base64.", param=where) from None
    if not raw:
        raise ApiError(400, f"{where}: the data is empty.", param=where)
    return raw


def mode_ran(result: TurnResult) -> str:
    """The mode that answered: under auto, the router's pick (``usage.ponder.router`` says it was auto)."""
    router = result.details.get("router")
    return str(router["mode"]) if isinstance(router, dict) and "mode" in router else result.mode


def usage_out(result: TurnResult) -> dict[str, Any]:
    usage = result.usage
    figures = result.to_dict()["usage"]
    ponder: dict[str, Any] = {
        "mode": mode_ran(result),
        "answer_tokens": usage.answer_tokens,
        **{k: figures[k] for k in ("time_to_first_token_s", "tokens_per_second", "total_time_s")},
        **result.details,  # the router's choice, Thinking's budget, the sub-agents
    }
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "ponder": ponder,
    }
