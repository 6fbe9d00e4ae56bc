"""The meter counts every call, finished or not, and caps what calls may generate by its allowance."""

from __future__ import annotations

import asyncio

import pytest

from ponder.messages import Message, ResponseDone, TextDelta
from ponder.models.base import Branch, ModelSettings
from ponder.models.metered import MeteredModel, estimate_prompt_tokens
from ponder.testing import ScriptedModel

ASK = [Message.user("one two three four five six seven eight")]  # 39 characters: an estimate of 9 tokens


async def test_a_finished_call_counts_its_reported_usage() -> None:
    meter = MeteredModel(ScriptedModel([["a ", "b ", "c"]]))
    events = [e async for e in meter.stream(ASK, ModelSettings())]
    done = events[-1]
    assert isinstance(done, ResponseDone)
    usage = done.response.usage
    assert meter.tokens == usage.prompt_tokens + usage.completion_tokens == 8 + 3
    response = await MeteredModel(ScriptedModel(["x y"])).request(ASK, ModelSettings())
    assert response.usage.completion_tokens == 2


async def test_a_stream_closed_early_counts_what_it_streamed() -> None:
    meter = MeteredModel(ScriptedModel([["w "] * 20]))
    seen = 0
    stream = meter.stream(ASK, ModelSettings())
    async for event in stream:
        seen += isinstance(event, TextDelta)
        if seen == 5:
            break
    await stream.aclose()
    assert meter.tokens == estimate_prompt_tokens(ASK) + 5


async def test_a_cancelled_call_counts_what_it_streamed() -> None:
    meter = MeteredModel(ScriptedModel([["w "] * 1000], delay_s=0.001))
    five = asyncio.Event()
    seen = 0

    async def consume() -> None:
        nonlocal seen
        async for event in meter.stream(ASK, ModelSettings()):
            seen += isinstance(event, TextDelta)
            if seen == 5:
                five.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(five.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert meter.tokens == estimate_prompt_tokens(ASK) + seen and seen >= 5


async def test_the_allowance_caps_each_call_by_what_is_left() -> None:
    scripted = ScriptedModel(["a b c d e f g h i j"] * 3)
    meter = MeteredModel(scripted, allowance=50)
    await meter.request(ASK, ModelSettings(max_tokens=500))  # 8 prompt + 10 completion: 32 left
    await meter.request(ASK, ModelSettings(max_tokens=500))  # the prompt counts once: 22 left
    await meter.request(ASK, ModelSettings(max_tokens=5))  # under what is left: as asked
    assert [c.settings.max_tokens for c in scripted.calls] == [50, 32, 5]


async def test_the_allowance_is_shared_by_the_branches_of_a_batch() -> None:
    scripted = ScriptedModel(default="ok")
    meter = MeteredModel(scripted, allowance=40)
    branches = [Branch(ModelSettings(max_tokens=512)) for _ in range(4)]
    events = [e async for e in meter.stream_many(ASK, branches)]
    assert sum(isinstance(e.event, ResponseDone) for e in events) == 4
    assert [c.settings.max_tokens for c in scripted.calls] == [10] * 4
    assert meter.tokens == 8 + 4 * 1  # the shared prompt once, every branch's answer


async def test_a_spent_allowance_still_asks_for_one_token() -> None:
    scripted = ScriptedModel(default="ok")
    meter = MeteredModel(scripted, allowance=3)
    await meter.request(ASK, ModelSettings())
    await meter.request(ASK, ModelSettings())
    assert [c.settings.max_tokens for c in scripted.calls] == [3, 1]
