"""Caps on a chat request's shape: how many messages, tools, parts and characters, and how much JSON.

Parsing JSON holds the interpreter lock from start to end (pydantic's validator, like ``json.loads``, is one
call into C), so a huge body stalls the event loop even from a worker thread: 200,000 messages take most of a
second. ``scan_body`` therefore reads the raw body first, in steps the interpreter can switch between, and
refuses it (413) at the first cap passed: it skips string contents with ``bytes.find``, counts the JSON
values (strings, containers, commas) and, at the top level, the ``messages`` and ``tools`` and the parts of
each message. A body it lets through parses in milliseconds. ``check_shape`` then checks the parsed request
exactly, characters of text included; it is the authority, the scan only an early and cheap refusal.

Neither checks that the JSON is valid (the parser does), nor media sizes (``translate`` and perception do).
"""

from __future__ import annotations

import json
import re

from ponder.config import ServerConfig
from ponder.server.errors import ApiError
from ponder.server.protocol import AssistantMessage, ChatCompletionRequest
from ponder.sharing import breathe

__all__ = ["check_shape", "scan_body"]

# What the scan stops at: a string's opening quote, or a structural character outside strings.
_TOKEN = re.compile(rb'["{}\[\],]')
_QUOTE, _BACKSLASH, _OPEN_OBJECT, _OPEN_ARRAY, _COMMA = 0x22, 0x5C, 0x7B, 0x5B, 0x2C
_COUNTED = (b"messages", b"tools")  # the top-level arrays whose elements are counted


def scan_body(body: bytes, caps: ServerConfig) -> None:
    """Refuse (413) a raw chat body whose JSON holds more values, messages, tools or parts per message than
    ``caps`` allow. Counts are upper bounds (an array is counted non-empty unless ``]`` follows at once)."""
    depth = 0  # containers open: 1 in the request object, 2 in its arrays, 3 in a message, 4 in its parts
    key = b""  # the last short string read at depth 1: the key of the value that follows
    top = b""  # the top-level array being read (b"messages", b"tools"), else b""
    counts = {b"messages": 0, b"tools": 0}
    parts = 0  # elements of the arrays of the message being read (content, tool_calls)
    values = 0
    pos = 0
    search = _TOKEN.search
    while (found := search(body, pos)) is not None:
        at = found.start()
        values += 1
        if values % 512 == 0:
            breathe()  # in a large request's thread: small requests first (ponder.sharing)
        if values > caps.max_json_values:
            raise _too_large(
                f"The request holds more than {caps.max_json_values:,} JSON values.", "too_many_values", None
            )
        char = body[at]
        if char == _QUOTE:
            end = _string_end(body, at)
            if depth == 1:
                key = body[at + 1 : end] if end - at <= 16 else b""
            pos = end + 1
            continue
        pos = at + 1
        if char == _COMMA:
            if depth == 2 and top:
                counts[top] += 1
                _check_count(top, counts[top], caps)
            elif depth == 4 and top == b"messages":
                parts += 1
                _check_parts(parts, caps)
        elif char in (_OPEN_OBJECT, _OPEN_ARRAY):
            depth += 1
            empty = char == _OPEN_ARRAY and body[pos : pos + 64].lstrip()[:1] == b"]"
            if depth == 2:
                top = key if char == _OPEN_ARRAY and key in _COUNTED else b""
                if top and not empty:
                    counts[top] = 1
            elif depth == 3 and top == b"messages":
                parts = 0  # a new message
            elif depth == 4 and top == b"messages" and not empty:
                parts += 1
                _check_parts(parts, caps)
        else:  # a closing bracket
            depth -= 1
            if depth <= 1:
                top = b""


def check_shape(request: ChatCompletionRequest, caps: ServerConfig) -> None:
    """Refuse (413) a parsed request over the caps: messages, tools, parts per message, characters of text."""
    _check_count(b"messages", len(request.messages), caps)
    _check_count(b"tools", len(request.tools or ()), caps)
    chars = 0
    for index, message in enumerate(request.messages):
        content = message.content
        count = 0
        if isinstance(content, str):
            chars += len(content)
        elif content is not None:
            count = len(content)
            chars += sum(len(part.text) for part in content if part.type == "text")
        if isinstance(message, AssistantMessage):
            calls = message.tool_calls or ()
            count += len(calls)
            chars += sum(len(c.function.name) + len(c.function.arguments) for c in calls)
        _check_parts(count, caps, f"messages[{index}]")
        chars += len(getattr(message, "name", None) or "")
    for tool in request.tools or ():
        function = tool.function
        chars += len(function.name) + len(function.description or "")
        if function.parameters:
            chars += len(json.dumps(function.parameters, ensure_ascii=False))
    if chars > caps.max_request_chars:
        raise _too_large(
            f"The request holds {chars:,} characters of text (messages and tool definitions); the most is "
            f"{caps.max_request_chars:,}, more than the model's context takes. Shorten the conversation.",
            "too_many_characters",
            "messages",
        )


def _check_count(what: bytes, count: int, caps: ServerConfig) -> None:
    if what == b"messages" and count > caps.max_messages:
        raise _too_large(
            f"More than {caps.max_messages:,} messages in one request: send the newest ones, or keep the "
            "conversation in a session (session_id) and send only the new turn.",
            "too_many_messages",
            "messages",
        )
    if what == b"tools" and count > caps.max_tools:
        raise _too_large(f"More than {caps.max_tools:,} tools in one request.", "too_many_tools", "tools")


def _check_parts(count: int, caps: ServerConfig, where: str = "messages") -> None:
    if count > caps.max_parts:
        raise _too_large(
            f"A message holds more than {caps.max_parts:,} parts (content parts and tool calls).",
            "too_many_parts",
            where,
        )


def _string_end(body: bytes, start: int) -> int:
    """The index of the quote that closes the string opened at ``start`` (the body's length if none)."""
    end = body.find(b'"', start + 1)
    while end != -1:
        before = end - 1
        while body[before] == _BACKSLASH:  # stops at the opening quote at the latest
            before -= 1
        if (end - 1 - before) % 2 == 0:  # an even run of backslashes escapes itself, not the quote
            return end
        end = body.find(b'"', end + 1)
    return len(body)


def _too_large(message: str, code: str, param: str | None) -> ApiError:
    return ApiError(413, message, code=code, param=param)
