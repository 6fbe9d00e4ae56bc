"""Each reasoning mode once on the real embedded model (SmolLM2-135M): structure and budgets, not wording."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.messages import AgentEvent, Message, ReasoningDelta, TextDelta
from ponder.models.base import Branch, ModelSettings
from ponder.models.embedded.backend import EmbeddedModel
from ponder.modes import AutoMode, ContemplatingMode, ThinkingMode, get_mode
from ponder.turn import run_turn

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

QUESTION = [Message.user("Tom has 3 apples and buys 4 more. How many apples does he have?")]


async def test_thinking_keeps_reasoning_within_budget_and_always_answers(smollm: EmbeddedModel) -> None:
    events: list[object] = []
    for budget in (8, 48):
        result = await run_turn(
            ThinkingMode(budget=budget), smollm, QUESTION, ModelSettings(max_tokens=32), events.append
        )
        assert 0 < result.usage.reasoning_tokens <= budget
        assert result.text.strip(), "a reply is never empty"
        assert result.usage.answer_tokens > 0
        assert result.details["thinking"]["budget"] == budget
    assert any(isinstance(e, ReasoningDelta) for e in events) and any(
        isinstance(e, TextDelta) for e in events
    )


async def test_a_tiny_budget_is_compressed(smollm: EmbeddedModel) -> None:
    result = await run_turn(ThinkingMode(budget=4), smollm, QUESTION, ModelSettings(max_tokens=16))
    assert result.details["thinking"]["compressed"] is True
    assert result.usage.reasoning_tokens == 4 and result.text.strip()


async def test_branches_decode_together_in_one_batch(smollm: EmbeddedModel) -> None:
    branches = [
        Branch(ModelSettings(max_tokens=12 + i, temperature=0.8, seed=i, assistant_prefix=f"Attempt {i}:"))
        for i in range(4)
    ]
    done = {}
    async for item in smollm.stream_many(QUESTION, branches):
        assert item.error is None
        if item.event is not None and item.event.kind == "done":
            done[item.index] = item.event.response
    assert sorted(done) == [0, 1, 2, 3]
    for i, response in done.items():
        assert 0 < response.usage.completion_tokens <= 12 + i
        assert response.usage.prompt_tokens > 0


async def test_contemplating_runs_agents_and_merges(smollm: EmbeddedModel) -> None:
    events: list[object] = []
    mode = ContemplatingMode(agents=3, budget=24)
    result = await run_turn(mode, smollm, QUESTION, ModelSettings(max_tokens=48), events.append)
    agents = result.details["agents"]
    assert len(agents) == 3 and all(0 < a["tokens"] <= 24 + 16 for a in agents if a["status"] == "finished")
    assert result.details["vote"]["merge"] in ("vote", "synthesis")
    assert result.text.strip()
    assert {e.agent for e in events if isinstance(e, AgentEvent) and e.status == "started"} == {0, 1, 2}


async def test_cancelling_contemplating_stops_the_batch(smollm: EmbeddedModel) -> None:
    progress = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, AgentEvent) and event.status == "progress":
            progress.set()

    mode = ContemplatingMode(agents=4, budget=400)
    turn = asyncio.create_task(
        run_turn(mode, smollm, [Message.user("Write a long story.")], ModelSettings(), on_event)
    )
    await asyncio.wait_for(progress.wait(), timeout=60)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    after = await smollm.request(QUESTION, ModelSettings(max_tokens=4))  # the engine is free again
    assert after.usage.completion_tokens > 0


async def test_auto_states_its_choice(smollm: EmbeddedModel) -> None:
    mode = get_mode("auto")
    assert isinstance(mode, AutoMode)
    result = await run_turn(
        mode, smollm, [Message.user("What is the capital of Italy?")], ModelSettings(max_tokens=8)
    )
    assert result.details["router"]["mode"] == "instant" and result.details["router"]["reason"]


async def test_ask_json_reports_per_mode_usage(tmp_path: Path) -> None:
    env = {
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": "/usr/bin:/bin",
    }
    args = ["ask", "--json", "-m", "embedded:smollm2-135m", "--mode", "contemplating", "--agents", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "ponder", *args, "--budget", "16", "--max-tokens", "16", "Add 2 and 2."],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["mode"] == "contemplating" and len(data["agents"]) == 2
    assert {"reasoning_tokens", "answer_tokens", "time_to_first_token_s", "total_time_s"} <= set(
        data["usage"]
    )


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--mode", "pondering"], "Invalid value for '--mode'"),
        (["--budget", "0"], "0 is not in the range"),
        (["--agents", "1000"], "1000 is not in the range"),
    ],
)
async def test_bad_mode_flags_name_the_allowed_values(tmp_path: Path, flags: list[str], words: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ponder", "ask", *flags, "hi"],
        capture_output=True,
        text=True,
        env={
            "XDG_DATA_HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "PATH": "/usr/bin:/bin",
        },
        timeout=60,
    )
    assert done.returncode == 2 and words in done.stderr


async def test_a_branch_out_of_budget_gets_its_closer_inside_the_batch(smollm: EmbeddedModel) -> None:
    branches = [
        Branch(ModelSettings(max_tokens=4, temperature=0.8, seed=i), closer="\nAnswer:", after_close=6)
        for i in range(2)
    ]
    done = {}
    async for item in smollm.stream_many(QUESTION, branches):
        if item.event is not None and item.event.kind == "done":
            done[item.index] = item.event.response
    for response in done.values():
        assert "\nAnswer:" in response.message.text
        assert 4 < response.usage.completion_tokens <= 10


async def test_branches_with_long_histories_of_their_own_decode_together(smollm: EmbeddedModel) -> None:
    """Each branch's own messages (a sub-agent's tool calls and results) can outgrow one llama.cpp batch."""
    notes = [" ".join(f"fact {i}-{n}." for n in range(70)) for i in range(2)]  # ~550 tokens each
    branches = [
        Branch(
            ModelSettings(max_tokens=6, temperature=0.0),
            history=(Message.assistant(f"My notes: {note}"), Message.user("Sum it up in one word.")),
        )
        for note in notes
    ]
    done = {}
    async for item in smollm.stream_many(QUESTION, branches):
        assert item.error is None, item.error
        if item.event is not None and item.event.kind == "done":
            done[item.index] = item.event.response
    assert sorted(done) == [0, 1]
    assert all(r.usage.prompt_tokens > 512 and r.usage.completion_tokens > 0 for r in done.values())


async def test_contemplating_program_agents_run_their_code_in_the_sandbox(smollm: EmbeddedModel) -> None:
    from ponder.sandbox import Sandbox

    sandbox = await Sandbox.start(pool_size=1)
    try:
        mode = ContemplatingMode(agents=2, budget=48, sandbox=sandbox)
        result = await run_turn(mode, smollm, QUESTION, ModelSettings(temperature=0.0, max_tokens=32))
    finally:
        await sandbox.aclose()
    program, thinker = result.details["agents"]
    assert (program["kind"], thinker["kind"]) == ("program", "think")
    assert program["status"] in ("finished", "halted")
    trace = result.reasoning.split("[agent 2")[0]
    if program["status"] == "finished":  # it ran in the jail: what it printed, or how it failed, is shown
        assert "```python" in trace and ("Output:" in trace or "failed" in trace or "did not finish" in trace)
