"""An MCP tool result as the text a model reads.

Text blocks are joined as they are. Structured content is added as JSON, unless a text block already
carries it (the spec asks servers to send both; the SDKs send a plain value ``v`` as the text ``v`` and
the structured ``{"result": v}``). Blocks a text model cannot take in (images,
audio, binary resources) are described in one line each, with their type and size, so the model knows
they were there; nothing is dropped silently. Resources carrying text are quoted with their URI.

Whatever the server wrote is data for the model, never instructions to Ponder: this module only
formats it. It does not decide whether the result is an error; the toolset does, from ``is_error``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mcp import types

__all__ = ["result_text"]


def result_text(result: types.CallToolResult) -> str:
    """The whole result as one text: every content block, then the structured content if not already in."""
    pieces = [_block_text(block) for block in result.content]
    structured = result.structured_content
    if structured is not None and not any(_carries(piece, structured) for piece in pieces):
        pieces.append(json.dumps(structured, ensure_ascii=False))
    return "\n".join(pieces) if pieces else "(the tool returned no content)"


def _block_text(block: types.ContentBlock) -> str:
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent | types.AudioContent):
        kind = "image" if isinstance(block, types.ImageContent) else "audio"
        return f"[{kind} content: {block.mime_type}, {_decoded_size(block.data)}, not shown]"
    if isinstance(block, types.ResourceLink):
        about = f" - {block.description}" if block.description else ""
        mime = f", {block.mime_type}" if block.mime_type else ""
        return f"[resource link: {block.name} <{block.uri}>{mime}{about}]"
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        mime = f", {resource.mime_type}" if resource.mime_type else ""
        if isinstance(resource, types.TextResourceContents):
            return f"[resource <{resource.uri}>{mime}]\n{resource.text}"
        return f"[resource <{resource.uri}>{mime}: binary, {_decoded_size(resource.blob)}, not shown]"
    return f"[{getattr(block, 'type', type(block).__name__)} content, not shown]"  # a type newer than us


def _decoded_size(data: str) -> str:
    try:
        return f"{len(base64.b64decode(data, validate=True))} bytes"
    except (binascii.Error, ValueError):
        return f"{len(data)} characters of data"


def _carries(text: str, structured: dict[str, Any]) -> bool:
    """Whether ``text`` says what ``structured`` says: the same JSON, or the value of a lone "result"."""
    values: list[Any] = [structured]
    if structured.keys() == {"result"}:
        values.append(structured["result"])
    try:
        parsed = json.loads(text)
    except ValueError:
        return text in values
    return any(parsed == value for value in values)
