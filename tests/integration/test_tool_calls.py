"""Tool calls from a real embedded model: the call is generated under the tools' grammar, so it parses and
matches the schema; the tool runs; the model answers from the result. Structure, not wording."""

from __future__ import annotations

import jsonschema
import pydantic
import pytest

from ponder.messages import Message, ToolCallEvent, ToolResultEvent
from ponder.models.base import ModelSettings
from ponder.models.embedded.backend import EmbeddedModel
from ponder.models.embedded.tool_calls import MAX_PARALLEL_CALLS
from ponder.modes import ContemplatingMode, InstantMode, ThinkingMode
from ponder.tools import ToolRunner, tool, tool_of
from ponder.turn import run_turn

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Attendee(pydantic.BaseModel):
    name: str
    email: str


@tool
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: the city name
    """
    return f"{city}: 18 degrees celsius, light rain"


@tool
def create_event(title: str, start: str, duration_minutes: int, attendees: list[Attendee]) -> str:
    """Create a calendar event and invite people.

    Args:
        title: the event title
        start: start time, ISO 8601
        duration_minutes: length in minutes
        attendees: people to invite
    """
    return f"created '{title}' with {len(attendees)} attendee(s)"


RUNNER = ToolRunner([tool_of(get_weather), tool_of(create_event)])


async def test_a_call_with_a_nested_schema_parses_validates_and_runs(qwen_small: EmbeddedModel) -> None:
    events: list[object] = []
    question = "Schedule 'Design review' on 2026-12-01T14:00 for 60 minutes with Ana (ana@example.com)."
    result = await run_turn(
        InstantMode(tools=RUNNER),
        qwen_small,
        [Message.user(question)],
        ModelSettings(temperature=0.0, max_tokens=96),
        events.append,
    )
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls, f"no tool call; the model said: {result.text!r}"
    for call in calls:
        schema = RUNNER.tools[call.name].parameters
        jsonschema.validate(call.arguments, schema)  # the grammar's promise, checked independently
    results = [e.result for e in events if isinstance(e, ToolResultEvent)]
    assert results and not any(r.is_error for r in results)
    assert result.text.strip() and result.details["tools"][0]["call_id"] == calls[0].call_id


async def test_thinking_calls_a_tool_and_answers(qwen_small: EmbeddedModel) -> None:
    events: list[object] = []
    result = await run_turn(
        ThinkingMode(budget=96, tools=RUNNER),
        qwen_small,
        [Message.user("What's the weather in Paris right now? Use the tool.")],
        ModelSettings(temperature=0.0, max_tokens=64),
        events.append,
    )
    assert any(isinstance(e, ToolCallEvent) and e.call.name == "get_weather" for e in events)
    assert result.text.strip()
    # The budget, plus the JSON of the calls it wrote: a call begun inside the budget is finished under the
    # grammar, and the 0.5B model may write the same call up to MAX_PARALLEL_CALLS times in one go (seen on
    # this machine's llama.cpp build: 4 identical get_weather calls in one pass).
    assert result.usage.reasoning_tokens <= 96 + 32 * MAX_PARALLEL_CALLS


async def test_the_model_writes_a_program_that_runs_in_the_sandbox(qwen_small: EmbeddedModel) -> None:
    from ponder.tools.python import PythonToolset

    toolset = PythonToolset(pool_size=1)
    try:
        runner = await ToolRunner.from_toolsets([toolset])
        events: list[object] = []
        await run_turn(
            InstantMode(tools=runner),
            qwen_small,
            [Message.user("Use python to compute the sum of the squares of the numbers 1 to 20.")],
            ModelSettings(temperature=0.0, max_tokens=96),
            events.append,
        )
    finally:
        await toolset.aclose()
    (call,) = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert call.name == "python" and call.arguments["code"].strip()
    (result,) = [e.result for e in events if isinstance(e, ToolResultEvent)]
    assert result.call_id == call.call_id
    assert not result.is_error, result.content  # it ran, inside the jail, and printed something
    assert any(ch.isdigit() for ch in result.content)


async def test_contemplating_agents_call_tools_from_one_batch(qwen_small: EmbeddedModel) -> None:
    events: list[object] = []
    result = await run_turn(
        ContemplatingMode(agents=2, budget=96, tools=RUNNER),
        qwen_small,
        [Message.user("What's the weather in Paris right now? Use the tool.")],
        ModelSettings(temperature=0.0, max_tokens=64),
        events.append,
    )
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert calls and all(e.agent in (0, 1) for e in calls)
    for event in calls:
        jsonschema.validate(event.call.arguments, RUNNER.tools[event.call.name].parameters)
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert {r.agent for r in results} == {e.agent for e in calls}  # each agent reads its own results
    agents = result.details["agents"]
    assert len(agents) == 2 and all(a["status"] in ("finished", "halted") for a in agents)
    assert any("tools" in a for a in agents)


async def test_required_tool_choice_forces_a_valid_call(qwen_small: EmbeddedModel) -> None:
    """A greeting needs no tool; with tool_choice required the reply is a call all the same."""
    settings = ModelSettings(
        temperature=0.0, max_tokens=64, tools=RUNNER.definitions(), tool_choice="required"
    )
    reply = await qwen_small.request([Message.user("Hello! How are you today?")], settings)
    assert reply.finish_reason == "tool_calls"
    assert reply.message.tool_calls and reply.message.text == ""
    for call in reply.message.tool_calls:
        assert RUNNER.problem(call) is None
    assert reply.usage.completion_tokens > 0


async def test_tool_choice_none_answers_in_words_with_the_tools_shown(qwen_small: EmbeddedModel) -> None:
    """A question that wants a tool, with tool_choice none: words, never a call (the model that opens one
    anyway is asked again without the tools)."""
    settings = ModelSettings(temperature=0.0, max_tokens=48, tools=RUNNER.definitions(), tool_choice="none")
    reply = await qwen_small.request(
        [Message.user("What's the weather in Paris right now? Use the tool.")], settings
    )
    assert reply.finish_reason in ("stop", "length")
    assert not reply.message.tool_calls and reply.message.text.strip()
    assert "<tool_call>" not in reply.message.text
