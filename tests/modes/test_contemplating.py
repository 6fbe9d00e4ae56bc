import asyncio

import pytest

from ponder.errors import BackendError
from ponder.messages import AgentEvent, Message, ModelResponse, TextPart, Usage
from ponder.models.base import ModelSettings
from ponder.modes import ContemplatingMode
from ponder.testing import ScriptedModel
from ponder.turn import run_turn

QUESTION = [Message.user("A pen costs $3. How much do 24 pens cost?")]


async def test_agents_take_different_angles_and_the_majority_wins() -> None:
    model = ScriptedModel(["so 72. Answer: 72", "Answer: $72.00", "Answer: 70", "it is \\boxed{72}"])
    events: list[object] = []
    result = await run_turn(
        ContemplatingMode(agents=4, budget=99), model, QUESTION, ModelSettings(), events.append
    )
    prefixes = {c.settings.assistant_prefix for c in model.calls}
    seeds = {c.settings.seed for c in model.calls}
    assert len(prefixes) == 4 and len(seeds) == 4
    assert all(c.settings.max_tokens == 99 for c in model.calls)
    vote = result.details["vote"]
    assert vote == {"winner": "72", "counts": {"72": 3, "70": 1}, "majority": True, "merge": "vote"}
    assert result.text == "so 72. Answer: 72"  # the first agent with the winning answer: no rewriting
    statuses = [e.status for e in events if isinstance(e, AgentEvent)]
    assert statuses.count("started") == 4 and statuses.count("finished") == 4
    assert len(result.details["agents"]) == 4
    model.assert_all_used()


async def test_the_first_agent_decodes_as_asked_and_the_others_explore() -> None:
    model = ScriptedModel(["Answer: 72", "Answer: 70", "Answer: 71", "Answer: 73"])
    result = await run_turn(ContemplatingMode(agents=4), model, QUESTION, ModelSettings(temperature=0.0))
    temperatures = sorted(c.settings.temperature for c in model.calls)
    assert temperatures[0] == 0.0 and all(t >= 0.6 for t in temperatures[1:])
    greedy = next(c for c in model.calls if c.settings.temperature == 0.0)
    assert greedy.settings.assistant_prefix == "<think>\n"  # plain Thinking; the others open with an angle
    assert all(c.settings.assistant_prefix.startswith("<think>\n") for c in model.calls)
    assert result.details["vote"]["winner"] == "72"  # no majority: the tie goes to the first agent
    assert result.details["vote"]["merge"] == "vote"


async def test_the_reply_is_the_winners_answer_after_its_reasoning() -> None:
    drafts = ["24 pens at $3.</think>\n\nAnswer: 72", "3 * 24 = 72\n</think>\nAnswer: 72", "Answer: 70"]
    model = ScriptedModel(drafts)
    result = await run_turn(ContemplatingMode(agents=3), model, QUESTION, ModelSettings())
    assert result.text == "Answer: 72"
    assert "24 pens at $3." in result.reasoning and "3 * 24 = 72" in result.reasoning
    assert result.usage.reasoning_tokens > result.usage.answer_tokens


async def test_a_failing_agent_is_reported_and_the_rest_still_vote() -> None:
    model = ScriptedModel(["Answer: 72", RuntimeError("engine fell over"), "Answer: 72", "Answer: 71"])
    result = await run_turn(ContemplatingMode(agents=4), model, QUESTION, ModelSettings())
    agents = result.details["agents"]
    assert agents[1]["status"] == "failed" and "engine fell over" in agents[1]["error"]
    assert result.details["vote"]["winner"] == "72"


async def test_unverifiable_drafts_are_merged_by_a_synthesis_pass() -> None:
    model = ScriptedModel(["Draft about tides.", "Tides come from the moon.", "Synthesis: the moon's pull."])
    result = await run_turn(ContemplatingMode(agents=2), model, QUESTION, ModelSettings())
    assert result.text == "Synthesis: the moon's pull."
    assert result.details["vote"]["merge"] == "synthesis"
    synthesis_prompt = model.calls[2].messages[-1].text
    assert "Draft 1:\nDraft about tides." in synthesis_prompt and "A pen costs" in synthesis_prompt


async def test_every_agent_failing_is_an_error() -> None:
    model = ScriptedModel([RuntimeError("a"), RuntimeError("b")])
    with pytest.raises(BackendError, match="Every sub-agent failed"):
        await run_turn(ContemplatingMode(agents=2), model, QUESTION, ModelSettings())


async def test_agents_stop_early_once_a_majority_agrees() -> None:
    slow = ["thinking "] * 200
    model = ScriptedModel(["Answer: 72", "Answer: 72", "Answer: 72", slow], delay_s=0.001)
    result = await run_turn(ContemplatingMode(agents=4), model, QUESTION, ModelSettings())
    assert result.details["agents"][3]["status"] == "halted"
    assert result.details["agents"][3]["tokens"] < 200
    assert result.details["vote"]["winner"] == "72"


async def test_cancelling_the_turn_cancels_every_agent() -> None:
    model = ScriptedModel([["x "] * 10_000 for _ in range(4)], delay_s=0.001)
    started = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, AgentEvent) and event.status == "progress":
            started.set()

    turn = asyncio.create_task(
        run_turn(ContemplatingMode(agents=4), model, QUESTION, ModelSettings(), on_event)
    )
    await asyncio.wait_for(started.wait(), timeout=10)
    before = set(asyncio.all_tasks())
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    await asyncio.sleep(0)
    leftovers = [t for t in before if t is not asyncio.current_task() and not t.done()]
    assert leftovers == []


async def test_an_agent_out_of_budget_is_compressed_and_still_votes() -> None:
    cut = ModelResponse(
        Message("assistant", (TextPart("24 pens at $3 is"),)), Usage(completion_tokens=8), "m", "length"
    )
    model = ScriptedModel(["Answer: 72", cut, "Answer: 72", "Answer: 72"])
    result = await run_turn(ContemplatingMode(agents=3, budget=8), model, QUESTION, ModelSettings())
    (closing,) = [c.settings for c in model.calls if "Time is up" in c.settings.assistant_prefix]
    assert closing.assistant_prefix.endswith(
        "24 pens at $3 is\nTime is up: I must stop thinking here and give my best answer now."
        "\n</think>\n\nAnswer:"
    )
    assert closing.max_tokens == 16
    assert [a["answer"] for a in result.details["agents"]] == ["72", "72", "72"]


async def test_adaptive_stops_after_a_first_pair_that_agrees() -> None:
    model = ScriptedModel(["Answer: 72", "so 72. Answer: 72"])
    result = await run_turn(ContemplatingMode(agents=4, adaptive=True), model, QUESTION, ModelSettings())
    assert len(model.calls) == 2
    assert [a["status"] for a in result.details["agents"]] == ["finished", "finished", "skipped", "skipped"]
    assert result.details["vote"]["winner"] == "72"


async def test_adaptive_runs_the_rest_when_the_pair_disagrees() -> None:
    model = ScriptedModel(["Answer: 72", "Answer: 70", "Answer: 72", "Answer: 72"])
    result = await run_turn(ContemplatingMode(agents=4, adaptive=True), model, QUESTION, ModelSettings())
    assert len(model.calls) == 4
    assert result.details["vote"]["counts"] == {"72": 3, "70": 1}


class _Sandbox:
    """A stand-in for ponder.sandbox.Sandbox that answers with scripted output (the real one is tested in
    tests/integration/test_modes_programs.py); it records the programs it was given."""

    def __init__(self, *outputs: tuple[str, int]) -> None:
        self.outputs = list(outputs)
        self.programs: list[str] = []

    async def run(self, code: str, stdin: str = "", timeout_s: float | None = None) -> object:
        from types import SimpleNamespace

        self.programs.append(code)
        stdout, exit_code = self.outputs.pop(0)
        return SimpleNamespace(
            stdout=stdout, stderr="boom" if exit_code else "", exit_code=exit_code, timed_out=False
        )


async def test_program_agents_write_code_that_the_sandbox_runs_and_their_output_votes() -> None:
    sandbox = _Sandbox(("72\n", 0))
    model = ScriptedModel(["print(3 * 24)\n", "3 * 24 = 72</think>Answer: 72"])
    result = await run_turn(ContemplatingMode(agents=2, sandbox=sandbox), model, QUESTION, ModelSettings())
    program_call, think_call = model.calls
    assert program_call.settings.stop == ("```",)
    assert program_call.settings.assistant_prefix.endswith("```python\n")
    assert think_call.settings.assistant_prefix == "<think>\n"
    assert sandbox.programs == ["print(3 * 24)\n"]
    assert result.details["vote"]["counts"] == {"72": 2}
    assert [a["kind"] for a in result.details["agents"]] == ["program", "think"]
    assert "print(3 * 24)" in result.text and "Answer: 72" in result.text  # the program is the reply


async def test_a_failing_program_does_not_vote() -> None:
    sandbox = _Sandbox(("", 1))
    model = ScriptedModel(["answer = 1/0\n", "3 * 24 = 72</think>Answer: 72"])
    result = await run_turn(ContemplatingMode(agents=2, sandbox=sandbox), model, QUESTION, ModelSettings())
    program = result.details["agents"][0]
    assert program["answer"] is None and result.details["vote"]["counts"] == {"72": 1}
    assert result.text == "Answer: 72"


async def test_structured_answers_are_voted_on_as_parsed_values() -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}
    drafts = [
        '24 * 3</think>\n{"total": 72}',
        'three dollars each</think>\n{ "total" : 72.0 }',
        '</think>\n{"total": 70}',
        "I am not sure.",
    ]
    model = ScriptedModel(drafts)
    result = await run_turn(ContemplatingMode(agents=4), model, QUESTION, ModelSettings(json_schema=schema))
    assert all(c.settings.json_schema is None for c in model.calls)  # the agents reason freely
    assert result.details["vote"]["counts"] == {'{"total":72}': 2, '{"total":70}': 1}
    assert result.text == '{"total":72}'


async def test_structured_drafts_without_a_winner_are_synthesised_under_the_schema() -> None:
    schema = {"type": "object", "properties": {"total": {"type": "integer"}}, "required": ["total"]}
    model = ScriptedModel(["maybe 72", "maybe 70", '{"total": 72}'])
    result = await run_turn(ContemplatingMode(agents=2), model, QUESTION, ModelSettings(json_schema=schema))
    assert model.calls[2].settings.json_schema == schema and result.text == '{"total": 72}'
