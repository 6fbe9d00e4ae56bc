"""A fake OpenAI-compatible engine: a real HTTP server standing in for vLLM or SGLang in tests and benches
of several Ponder processes (``python -m ponder.testing.engine --port 8001``).

It answers ``POST /v1/chat/completions`` whole or streamed (server-sent events, with a usage chunk), taking
``token_delay_s`` per token it writes, as an engine decoding at a fixed speed would, and ``n`` choices when
asked. What it answers is set by rules, never by a model: the first rule whose ``match`` (a regular
expression) is found in the prompt's text gives the reply, a text or tool calls; without one, the reply is
``tokens`` words. Every request is recorded with its headers and body: ``GET /fake/requests`` lists them,
``DELETE /fake/requests`` forgets them, ``PUT /fake/rules`` replaces the rules and ``PUT /fake/speed`` the
delay and the default reply's length: what a test in another process uses.

Not here: tokenization (a token is a word), grammars (a ``response_format`` is recorded, not enforced),
authentication (any key is taken).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

__all__ = ["EngineState", "Rule", "create_engine_app", "main", "prompt_text"]

MODEL_NAME = "fake-engine"


class Rule(BaseModel):
    """A reply for the prompts in which ``match`` is found: ``text``, or ``tool_calls`` (each a
    ``{"name": ..., "arguments": {...}}``), or both."""

    match: str
    text: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)


class Speed(BaseModel):
    token_delay_s: float = Field(ge=0)
    tokens: int = Field(default=16, ge=1)


@dataclass
class EngineState:
    token_delay_s: float = 0.0
    tokens: int = 16  # words in the default reply
    rules: list[Rule] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # {"headers", "body", "at"}

    def reply_for(self, body: dict[str, Any]) -> Rule:
        prompt = prompt_text(body.get("messages", []))
        for rule in self.rules:
            if re.search(rule.match, prompt):
                return rule
        return Rule(match="", text=" ".join(f"word{i}" for i in range(self.tokens)))


def prompt_text(messages: Sequence[dict[str, Any]]) -> str:
    """The text of the messages, one per line: what rules are matched against."""
    lines = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            lines.append(content)
        elif isinstance(content, list):
            lines.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(lines)


def create_engine_app(state: EngineState) -> FastAPI:
    app = FastAPI(title="fake engine")

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        body = await request.json()
        state.requests.append({"headers": dict(request.headers), "body": body, "at": time.time()})
        rule = state.reply_for(body)
        choices = max(1, int(body.get("n") or 1))
        prompt_tokens = len(prompt_text(body.get("messages", [])).split())
        if body.get("stream"):
            return StreamingResponse(
                _stream(state, rule, choices, prompt_tokens), media_type="text/event-stream"
            )
        words = _words(rule)
        await asyncio.sleep(state.token_delay_s * len(words))
        return JSONResponse(_whole(rule, choices, prompt_tokens, len(words)))

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "ponder"}]}

    @app.get("/fake/requests")
    async def recorded() -> list[dict[str, Any]]:
        return state.requests

    @app.delete("/fake/requests")
    async def forget() -> dict[str, int]:
        count = len(state.requests)
        state.requests.clear()
        return {"forgotten": count}

    @app.put("/fake/speed")
    async def set_speed(speed: Speed) -> Speed:
        state.token_delay_s, state.tokens = speed.token_delay_s, speed.tokens
        return speed

    @app.put("/fake/rules")
    async def set_rules(rules: list[Rule]) -> dict[str, int]:
        state.rules = rules
        return {"rules": len(rules)}

    return app


def _words(rule: Rule) -> list[str]:
    """The reply's tokens: its words (each with the space before it), and one per tool call."""
    words = re.findall(r"\s*\S+", rule.text) if rule.text else []
    return words + [""] * len(rule.tool_calls)


def _wire_calls(rule: Rule) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call.get("arguments", {}))},
        }
        for call in rule.tool_calls
    ]


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _whole(rule: Rule, choices: int, prompt_tokens: int, completion: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": rule.text or None}
    if rule.tool_calls:
        message["tool_calls"] = _wire_calls(rule)
    finish = "tool_calls" if rule.tool_calls else "stop"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_NAME,
        "choices": [{"index": i, "message": message, "finish_reason": finish} for i in range(choices)],
        "usage": _usage(prompt_tokens, completion * choices),
    }


async def _stream(state: EngineState, rule: Rule, choices: int, prompt_tokens: int) -> AsyncIterator[str]:
    ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": index, "delta": delta, "finish_reason": finish}
        payload = {"id": ident, "object": "chat.completion.chunk", "model": MODEL_NAME, "choices": [choice]}
        return f"data: {json.dumps(payload)}\n\n"

    for index in range(choices):
        yield chunk(index, {"role": "assistant", "content": ""})
    words = [w for w in _words(rule) if w]
    for word in words:
        await asyncio.sleep(state.token_delay_s)
        for index in range(choices):
            yield chunk(index, {"content": word})
    for position, call in enumerate(_wire_calls(rule)):
        await asyncio.sleep(state.token_delay_s)
        for index in range(choices):
            yield chunk(index, {"tool_calls": [{"index": position, **call}]})
    finish = "tool_calls" if rule.tool_calls else "stop"
    for index in range(choices):
        yield chunk(index, {}, finish)
    completion = (len(words) + len(rule.tool_calls)) * choices
    yield f"data: {json.dumps({'id': ident, 'choices': [], 'usage': _usage(prompt_tokens, completion)})}\n\n"
    yield "data: [DONE]\n\n"


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m ponder.testing.engine", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds per token written")
    parser.add_argument("--tokens", type=int, default=16, help="words in the default reply")
    parser.add_argument("--rules", help="a JSON file: a list of rules ({match, text, tool_calls})")
    args = parser.parse_args(argv)
    rules = []
    if args.rules:
        with open(args.rules, encoding="utf-8") as file:
            rules = [Rule.model_validate(r) for r in json.load(file)]
    state = EngineState(token_delay_s=args.token_delay, tokens=args.tokens, rules=rules)
    uvicorn.run(create_engine_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
