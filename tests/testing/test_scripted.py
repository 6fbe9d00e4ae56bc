import pytest

from ponder.messages import Message, ResponseDone, TextDelta, ToolCallEvent, ToolCallPart
from ponder.models.base import ModelSettings
from ponder.testing import ScriptedModel

SETTINGS = ModelSettings(max_tokens=7)


async def test_replies_in_order_and_records_calls() -> None:
    model = ScriptedModel(["first", "second"])
    assert (await model.request([Message.user("a")], SETTINGS)).message.text == "first"
    assert (await model.request([Message.user("b")], SETTINGS)).message.text == "second"
    assert [c.messages[-1].text for c in model.calls] == ["a", "b"]
    assert model.calls[0].settings.max_tokens == 7
    model.assert_all_used()


async def test_streams_deltas_then_done() -> None:
    model = ScriptedModel([["Hel", "lo"]])
    events = [e async for e in model.stream([Message.user("x")], SETTINGS)]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert isinstance(events[-1], ResponseDone)
    assert events[-1].response.message.text == "Hello"


async def test_tool_calls_and_parallel_tool_calls() -> None:
    one = ToolCallPart("c1", "add", {"a": 1})
    two = ToolCallPart("c2", "mul", {"a": 2})
    model = ScriptedModel([one, [one, two]])
    first = await model.request([], SETTINGS)
    assert first.finish_reason == "tool_calls" and first.message.tool_calls == [one]
    events = [e async for e in model.stream([], SETTINGS)]
    assert [e.call.call_id for e in events if isinstance(e, ToolCallEvent)] == ["c1", "c2"]


async def test_raises_scripted_errors_and_runs_functions() -> None:
    model = ScriptedModel([RuntimeError("boom"), lambda messages, settings: f"{len(messages)} messages"])
    with pytest.raises(RuntimeError, match="boom"):
        await model.request([], SETTINGS)
    assert (
        await model.request([Message.user("a"), Message.user("b")], SETTINGS)
    ).message.text == "2 messages"


async def test_unused_steps_and_exhaustion_fail_loudly() -> None:
    model = ScriptedModel(["left over"])
    with pytest.raises(AssertionError, match="never used"):
        model.assert_all_used()
    await model.request([], SETTINGS)
    with pytest.raises(AssertionError, match="ran out"):
        await model.request([], SETTINGS)
