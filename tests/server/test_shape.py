"""Caps on a chat request's shape: the largest admitted request passes, one past any cap is a 413 that says
which, the raw scan refuses before parsing, and the check after parsing catches what the scan cannot see."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ponder.config import ServerConfig
from ponder.server.errors import ApiError
from ponder.server.protocol import ChatCompletionRequest
from ponder.server.shape import check_shape, scan_body
from ponder.testing import ScriptedModel

from .conftest import LiveServer

CAPS = ServerConfig()
SCHEMA = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "what to look for"}},
    "required": ["query"],
}


def request(
    messages: int = 1, tools: int = 0, parts: int = 0, text: str = "hi", **extra: Any
) -> dict[str, Any]:
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": text} for i in range(messages - 1)]
    last: Any = text if not parts else [{"type": "text", "text": text}] * parts
    body: dict[str, Any] = {
        "model": "ponder-instant",
        "messages": [*history, {"role": "user", "content": last}],
        **extra,
    }
    if tools:
        body["tools"] = [
            {"type": "function", "function": {"name": f"tool_{i}", "parameters": SCHEMA}}
            for i in range(tools)
        ]
    return body


def check(body: dict[str, Any] | bytes, caps: ServerConfig = CAPS) -> None:
    """The server's own sequence: scan the raw body, parse it, check the parsed request."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    scan_body(raw, caps)
    check_shape(ChatCompletionRequest.model_validate_json(raw), caps)


def refused(body: dict[str, Any] | bytes, caps: ServerConfig = CAPS) -> ApiError:
    with pytest.raises(ApiError) as caught:
        check(body, caps)
    assert caught.value.status == 413
    return caught.value


def test_the_defaults_admit_what_the_issue_requires() -> None:
    assert CAPS.max_messages >= 2048 and CAPS.max_tools >= 128
    assert CAPS.max_request_chars >= 4 * 128 * 1024  # a 128k-token context, at 4 characters a token


def test_the_largest_admitted_shapes_pass() -> None:
    check(request(messages=CAPS.max_messages))
    check(request(tools=CAPS.max_tools))
    check(request(parts=CAPS.max_parts))
    full = CAPS.max_request_chars - len(json.dumps(SCHEMA)) * 128 - 10 * 128
    check(request(text="w" * full, tools=128))
    check(request(messages=2048, tools=128, text="a question, with some words"))


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (request(messages=CAPS.max_messages + 1), "too_many_messages", "messages"),
        (request(messages=200_000), "too_many_messages", "messages"),
        (request(tools=CAPS.max_tools + 1), "too_many_tools", "tools"),
        (request(tools=20_000), "too_many_tools", "tools"),
        (request(parts=CAPS.max_parts + 1), "too_many_parts", "messages"),
        (request(text="w" * (CAPS.max_request_chars + 1)), "too_many_characters", "messages"),
        (request(stop=["x"] * (CAPS.max_json_values + 1)), "too_many_values", None),
    ],
)
def test_one_past_a_cap_is_413_naming_it(body: dict[str, Any], code: str, param: str | None) -> None:
    err = refused(body)
    assert err.code == code and err.param == param
    assert err.message.startswith(("More than", "A message holds", "The request holds"))


def test_the_scan_refuses_before_parsing() -> None:
    # Not even valid JSON after the cap: only the scan can have refused it.
    raw = json.dumps(request(messages=CAPS.max_messages + 1)).encode()[:-2] + b"{{{ not json"
    with pytest.raises(ApiError) as caught:
        scan_body(raw, CAPS)
    assert caught.value.code == "too_many_messages"


def test_the_scan_does_not_count_what_strings_hold() -> None:
    tricky = '", {"role": "user", "content": [1, 2, 3]}, \\\\", \\"[[{,,,'
    scan_body(json.dumps(request(messages=3, text=tricky * 1000)).encode(), ServerConfig(max_messages=3))
    with pytest.raises(ApiError):
        scan_body(json.dumps(request(messages=4, text=tricky)).encode(), ServerConfig(max_messages=3))


def test_what_the_scan_cannot_see_is_caught_after_parsing() -> None:
    # The key written with an escape: the scan does not know it is "messages"; the check after parsing does.
    raw = json.dumps(request(messages=CAPS.max_messages + 1)).replace('"messages"', '"m\\u0065ssages"')
    scan_body(raw.encode(), CAPS)
    assert refused(raw.encode()).code == "too_many_messages"


def post(server: LiveServer, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.keys['big']}"}
    return httpx.post(server.base_url + "/chat/completions", json=body, headers=headers, timeout=60)


def test_over_the_caps_is_413_and_the_largest_request_is_answered(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"))
    r = post(server, request(messages=200_000))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_many_messages"
    assert "4,096 messages" in r.json()["error"]["message"]
    r = post(server, request(tools=20_000))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_tools"
    r = post(server, request(messages=2048, tools=128, text="a question, with some words"))
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "ok"
