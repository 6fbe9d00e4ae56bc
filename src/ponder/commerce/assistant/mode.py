"""The planned shopping turn: the model writes a small plan, the runtime carries it out and writes the reply.

``ShoppingAssistant`` wraps the turn's mode (whatever the router or the person picked) under the shopping
preset. One turn:

1. read the table (table.py): the products shown last, the cart, the customer's orders, addresses and
   payment methods (in a worker thread);
2. plan, at the same time: one model call that writes a ``Plan`` under ``PLAN_SCHEMA`` (a grammar on the
   embedded engine, ``response_format`` on an OpenAI-compatible server). Its prompt is the same system
   message for every store and customer (prompts/shopping_plan.txt, its prefill cached), the recent turns
   and the new message, and nothing else: the plan names things in words and the runtime resolves them, so
   the planner needs no ids, and from one turn to the next its prompt only grows at the end. Prices and a
   size written plainly in the message fill what the plan missed;
3. carry it out (execute.py, in a worker thread) and stream the reply it wrote, grounded in what the store
   returned; an ``answer`` plan instead runs the wrapped mode, without the store's tools, on the store's
   policy (prompts/shopping_answer.txt).

The model never sees a tool schema, a confirmation token or a description's text in the planning call.
The ``ResponseDone`` carries the plan in ``details["plan"]`` and the calls' usage summed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from ponder.commerce.assistant import introductions
from ponder.commerce.assistant.execute import Executor
from ponder.commerce.assistant.plan import PLAN_SCHEMA, Plan, parse_plan
from ponder.commerce.assistant.table import read_table, shown_names
from ponder.commerce.tools import ShoppingTools
from ponder.messages import (
    Event,
    Message,
    ModelResponse,
    ResponseDone,
    TextDelta,
    ToolCallEvent,
    ToolCallPart,
    ToolResultEvent,
    ToolResultPart,
    Usage,
)
from ponder.models.base import Model, ModelSettings
from ponder.modes.acting import sum_usage
from ponder.modes.base import Mode
from ponder.prompts import load_prompt

__all__ = ["ShoppingAssistant"]

PLAN_TOKENS = 96  # a plan is about 10 to 40 tokens
WINDOW = 6  # the planner reads the conversation's recent messages, from a start that moves by this many
HISTORY_CHARS = 300  # of each


class ShoppingAssistant(Mode):
    """Plans, carries out and answers a shopping turn for the customer of ``tools``; ``inner`` (the turn's
    mode, with the store's policy as its prompt) writes the replies that need words only."""

    def __init__(self, inner: Mode, tools: ShoppingTools) -> None:
        super().__init__(inner.system_prompt, tools=inner.tools)
        self.name = inner.name
        self.inner = inner
        self.shopping = tools

    async def run(
        self, model: Model, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[Event]:
        started = time.perf_counter()
        conversation = [m for m in messages if m.role != "system"]
        said = conversation[-1].text if conversation and conversation[-1].role == "user" else ""
        history = conversation[:-1]
        tools = self.shopping
        unknown = bool(tools.identify_by) and tools.owner == tools.writer  # a customer yet to say who
        given = introductions.introduced(said, tools.identify_by) if unknown else None
        if given is not None:  # they said who they are: look them up, nothing else this turn
            found, (call, result) = await asyncio.to_thread(introductions.identify, tools, given)
            yield ToolCallEvent(call)
            yield ToolResultEvent(result)
            yield TextDelta(found)
            usage = Usage(time_to_first_token_s=time.perf_counter() - started)
            logged = {"identify": True, "tools": [_logged(call, result)]}
            yield ResponseDone(ModelResponse(Message.assistant(found), usage, model.name, details=logged))
            return
        reading = asyncio.create_task(
            asyncio.to_thread(read_table, self.shopping.shop, self.shopping.owner, history)
        )
        try:
            planned = await model.request(_planning(history, said), _PLANNING)
        finally:
            table = await reading
        before = "\n".join(m.text for m in history if m.role == "user")
        plan = _plan(planned.message.text).from_text(said, before)
        if unknown and plan.intent in introductions.NEEDS_CUSTOMER:  # whose orders? ask before anything
            asked = introductions.ask_for(tools.identify_by)
            usage = replace(planned.usage, time_to_first_token_s=time.perf_counter() - started)
            yield TextDelta(asked)
            yield ResponseDone(
                ModelResponse(Message.assistant(asked), usage, model.name, details={"plan": plan.to_dict()})
            )
            return
        executor = Executor(self.shopping, table, said, [m.text for m in history if m.role == "user"])
        text = await asyncio.to_thread(executor.run, plan)
        details = {"plan": plan.to_dict(), "tools": [_logged(c, r) for c, r in executor.calls]}
        for call, result in executor.calls:
            yield ToolCallEvent(call)
            yield ToolResultEvent(result)
        if text is not None:
            yield TextDelta(text)
            usage = replace(planned.usage, time_to_first_token_s=time.perf_counter() - started)
            yield ResponseDone(ModelResponse(Message.assistant(text), usage, model.name, details=details))
            return
        async for event in self.inner.run(model, messages, settings):
            if isinstance(event, ResponseDone):
                answered = event.response
                usage = sum_usage(planned.usage, answered.usage)
                yield ResponseDone(replace(answered, usage=usage, details={**answered.details, **details}))
            else:
                yield event


def _logged(call: ToolCallPart, result: ToolResultPart) -> dict[str, Any]:
    """A store call in the turn's details, as the modes' tool loops log theirs."""
    return {
        "call_id": call.call_id,
        "name": call.name,
        "arguments": call.arguments,
        "result": result.content,
        "is_error": result.is_error,
    }


def _plan(text: str) -> Plan:
    """The model's plan; a reply in words when it wrote none that parses."""
    try:
        return parse_plan(text)
    except ValueError:
        return Plan("answer")


_PLANNING = ModelSettings(max_tokens=PLAN_TOKENS, temperature=0.0, json_schema=PLAN_SCHEMA)


def planner_prefix() -> list[Message]:
    """The fixed start of every planning prompt (what ``ponder serve`` evaluates before it is ready)."""
    return [Message.system(load_prompt("shopping_plan"))]


def _planning(history: Sequence[Message], said: str) -> list[Message]:
    """What the planner reads: the fixed instructions, the conversation's recent turns, the new message.

    The recent turns are a window that moves by whole blocks of ``WINDOW`` messages, so from one turn to the
    next the prompt only grows at its end and the engine's cached prefix covers all but the newest turn."""
    said_before = [m for m in history if m.role in ("user", "assistant") and m.text]
    start = max(len(said_before) - 2, 0) // WINDOW * WINDOW
    return [
        *planner_prefix(),
        *(_short(m) for m in said_before[start:]),
        Message.user(said),
    ]


def _short(message: Message) -> Message:
    """A message as the planner reads it: the customer's words, or the gist of a reply (its first line and
    the products it named, by number): what "the second one" or "that order" can refer to, in few tokens."""
    text = message.text
    if message.role == "assistant":
        lines = text.splitlines()
        named = shown_names([message])
        text = lines[0] if lines else ""
        if named:
            text += " " + "; ".join(f"{i}. {name}" for i, name in enumerate(named, 1))
    if len(text) > HISTORY_CHARS:
        text = text[:HISTORY_CHARS] + " ..."
    return Message.user(text) if message.role == "user" else Message.assistant(text)
