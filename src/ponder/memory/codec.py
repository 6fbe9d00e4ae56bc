"""Messages to rows and back: the text a message carries, its parts as JSON, and its fingerprint.

Images and audio are not kept (their bytes can be large and personal): a stored message holds what
perception read from them, as text parts with their origin, and a media part that was never perceived
becomes a short placeholder. Reasoning is not kept either; it is not part of the conversation.

The fingerprint identifies a message as a client would send it again (role, text, tool calls and results,
and the sha256 of any media), so a client that resends the whole history is recognised message by message.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ponder.messages import (
    AudioPart,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["fingerprint", "message_from_row", "message_to_row"]


def fingerprint(message: Message) -> str:
    digest = hashlib.sha256(message.role.encode())
    for part in message.parts:
        if isinstance(part, ReasoningPart):
            continue
        digest.update(b"\x00" + json.dumps(_identity(part), sort_keys=True).encode())
    return digest.hexdigest()


def _identity(part: Part) -> dict[str, Any]:
    if isinstance(part, ImagePart | AudioPart):
        return {"kind": part.kind, "sha256": hashlib.sha256(part.data).hexdigest()}
    if isinstance(part, TextPart):
        return {"kind": "text", "text": part.text}  # origin left out: a resent transcript is the same text
    return _part_json(part)


def message_to_row(message: Message) -> tuple[str, list[dict[str, Any]]]:
    """(content, parts): the text to show and search, and the parts as JSON to rebuild the message."""
    parts = [_part_json(part) for part in message.parts if not isinstance(part, ReasoningPart)]
    return "\n".join(p["text"] for p in parts if p["kind"] == "text"), parts


def message_from_row(role: str, content: str, parts: list[dict[str, Any]] | None) -> Message:
    if not parts:
        return Message(role, (TextPart(content),))  # type: ignore[arg-type]
    return Message(role, tuple(_part(p) for p in parts))  # type: ignore[arg-type]


def _part_json(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"kind": "text", "text": part.text} | ({"origin": part.origin} if part.origin else {})
    if isinstance(part, ToolCallPart):
        return {"kind": "tool_call", "call_id": part.call_id, "name": part.name, "arguments": part.arguments}
    if isinstance(part, ToolResultPart):
        return {
            "kind": "tool_result",
            "call_id": part.call_id,
            "name": part.name,
            "content": part.content,
            "is_error": part.is_error,
        }
    if isinstance(part, ImagePart | AudioPart):
        what = "an image" if isinstance(part, ImagePart) else "an audio clip"
        return {
            "kind": "text",
            "text": f"[{what} ({part.media_type}, {len(part.data)} bytes) was sent here; it was not kept]",
            "origin": part.kind,
            "sha256": hashlib.sha256(part.data).hexdigest(),
        }
    raise TypeError(f"cannot store a {type(part).__name__}")


def _part(data: dict[str, Any]) -> Part:
    kind = data.get("kind")
    if kind == "tool_call":
        return ToolCallPart(data["call_id"], data["name"], dict(data.get("arguments") or {}))
    if kind == "tool_result":
        return ToolResultPart(data["call_id"], data["name"], data["content"], bool(data.get("is_error")))
    origin = data.get("origin")
    return TextPart(str(data.get("text", "")), origin if origin in ("audio", "image") else None)
