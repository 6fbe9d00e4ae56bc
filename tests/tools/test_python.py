"""The python tool: code goes to the sandbox (a real jail), output comes back as text for the model."""

from __future__ import annotations

import asyncio

import pytest

from ponder.config import SandboxConfig, Settings
from ponder.messages import Message, ToolCallPart, ToolResultEvent
from ponder.models.base import ModelSettings
from ponder.modes import ThinkingMode
from ponder.sandbox import sandbox as sandbox_module
from ponder.sandbox.lazy import LazySandbox
from ponder.testing import ScriptedModel
from ponder.tools import ToolRunner
from ponder.tools.python import PythonToolset, echo_last_expression
from ponder.turn import run_turn


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("2**100", "__value = (2**100)\nif __value is not None: print(repr(__value))\n"),
        ("x = 1; x  # done", "x = 1; __value = (x)\nif __value is not None: print(repr(__value))\n"),
        ("print(3)", "print(3)"),
        ("x = 3", "x = 3"),
        ("def broken(:", "def broken(:"),
    ],
)
def test_a_final_bare_expression_is_printed_as_a_notebook_would(code: str, expected: str) -> None:
    assert echo_last_expression(code) == expected


async def test_programs_run_in_the_jail_and_errors_come_back_as_error_results() -> None:
    toolset = PythonToolset()
    try:
        runner = await ToolRunner.from_toolsets([toolset])
        calls = [
            ToolCallPart("c1", "python", {"code": "import numpy as np\nint(np.arange(5).sum())"}),
            ToolCallPart("c2", "python", {"code": "import os\nprint(os.getuid())"}),
            ToolCallPart("c3", "python", {"code": "raise ValueError('nope')"}),
            ToolCallPart("c4", "python", {"code": "print(input().upper())", "stdin": "hello\n"}),
        ]
        total, uid, failure, echoed = await runner.run(calls)
    finally:
        await toolset.aclose()
    assert (total.content.strip(), total.is_error) == ("10", False)
    assert uid.content.strip() != "0"  # never root inside
    assert (
        failure.is_error and "exited with code 1" in failure.content and "ValueError: nope" in failure.content
    )
    assert echoed.content.strip() == "HELLO"


async def test_a_turn_of_parallel_programs_queues_on_the_pool_and_is_capped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model makes 14 parallel python calls in one turn: the 12 the turn allows all run, never more
    than pool_size (2) jails alive at once; the 13th and 14th get the cap's error result."""
    alive = peak = 0
    start, close = sandbox_module.Worker.start.__func__, sandbox_module.Worker.close  # type: ignore[attr-defined]

    async def counted_start(cls: type, *args: object, **kwargs: object) -> object:
        nonlocal alive, peak
        alive += 1
        peak = max(peak, alive)
        try:
            return await start(cls, *args, **kwargs)
        except BaseException:
            alive -= 1
            raise

    async def counted_close(worker: object) -> None:
        nonlocal alive
        await close(worker)
        alive -= 1

    monkeypatch.setattr(sandbox_module.Worker, "start", classmethod(counted_start))
    monkeypatch.setattr(sandbox_module.Worker, "close", counted_close)
    settings = Settings(sandbox=SandboxConfig(pool_size=2, python_calls_per_turn=12))
    calls = [
        ToolCallPart(f"c{i}", "python", {"code": f"import time\ntime.sleep(0.2)\n{i} * {i}"})
        for i in range(14)
    ]
    model = ScriptedModel([calls, "The programs answered.", "done"])
    toolset = PythonToolset(settings)
    results: list[ToolResultEvent] = []
    try:
        mode = ThinkingMode(budget=100, tools=await ToolRunner.from_toolsets([toolset]))
        turn = await run_turn(
            mode,
            model,
            [Message.user("Square 0 to 13.")],
            ModelSettings(),
            lambda e: results.append(e) if isinstance(e, ToolResultEvent) else None,
        )
        sandbox = toolset.sandbox
        assert (sandbox.pool_size, sandbox.peak_running) == (2, 2)
    finally:
        await toolset.aclose()
    assert turn.text == "done"
    outcomes = [(r.result.call_id, r.result.is_error) for r in results]
    assert outcomes == [(f"c{i}", i >= 12) for i in range(14)]
    assert [r.result.content.strip() for r in results[:12]] == [str(i * i) for i in range(12)]
    assert all("at most 12 times in one turn" in r.result.content for r in results[12:])
    assert peak == 2 and alive == 0
    model.assert_all_used()


async def test_a_call_that_finds_every_jail_busy_past_the_deadline_is_an_error_result() -> None:
    settings = Settings(sandbox=SandboxConfig(pool_size=1, wait_s=0.2))
    toolset = PythonToolset(settings)
    try:
        runner = await ToolRunner.from_toolsets([toolset])
        calls = [
            ToolCallPart("c1", "python", {"code": "import time\ntime.sleep(3)\nprint('slow')"}),
            ToolCallPart("c2", "python", {"code": "print('waited')"}),
        ]
        slow, waited = await runner.run(calls)
    finally:
        await toolset.aclose()
    assert (slow.content.strip(), slow.is_error) == ("slow", False)
    assert waited.is_error and "stayed busy for 0.2 s" in waited.content and "not run" in waited.content


async def test_given_the_servers_pool_the_tool_shares_it_with_program_agents() -> None:
    """One pool per process: the tool's programs and a program agent's run in the pool it is given, never
    more than its pool_size at once, and closing the toolset leaves the pool to its owner."""
    shared = LazySandbox(pool_size=1)
    toolset = PythonToolset(Settings(), shared=shared)
    try:
        runner = await ToolRunner.from_toolsets([toolset])
        calls = [
            ToolCallPart(f"c{i}", "python", {"code": f"import time\ntime.sleep(0.2)\nprint({i})"})
            for i in range(2)
        ]
        agent, results = await asyncio.gather(shared.run("print('agent')"), runner.run(calls))
        await toolset.aclose()
        sandbox = await shared.start()
        assert (sandbox.pool_size, sandbox.peak_running) == (1, 1)
        assert agent.stdout.strip() == "agent"
        assert [r.content.strip() for r in results] == ["0", "1"]
        assert (await shared.run("print('still open')")).stdout.strip() == "still open"
    finally:
        await shared.aclose()
