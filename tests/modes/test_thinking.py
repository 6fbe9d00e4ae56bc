import pytest

from ponder.errors import BackendError
from ponder.messages import Message, ModelResponse, ReasoningDelta, TextDelta, TextPart, Usage
from ponder.models.base import ModelSettings
from ponder.modes import ThinkingMode
from ponder.testing import ScriptedModel
from ponder.turn import run_turn

QUESTION = [Message.user("What is 6 * 7?")]


def _cut(text: str, tokens: int) -> ModelResponse:
    """A reasoning pass that ran out of budget."""
    return ModelResponse(
        Message("assistant", (TextPart(text),)), Usage(completion_tokens=tokens), "m", "length"
    )


async def test_reasons_then_answers_with_separate_budgets() -> None:
    model = ScriptedModel([["6 times 7 ", "is 42."], "Answer: 42"])
    events: list[object] = []
    result = await run_turn(
        ThinkingMode(budget=100), model, QUESTION, ModelSettings(max_tokens=50), events.append
    )
    reasoning_call, answer_call = (c.settings for c in model.calls)
    assert (reasoning_call.max_tokens, reasoning_call.assistant_prefix) == (100, "<think>\n")
    assert "</think>" in reasoning_call.stop
    assert answer_call.max_tokens == 50  # the answer's own allowance: the budget cannot starve it
    assert answer_call.assistant_prefix == "<think>\n6 times 7 is 42.\n</think>\n\n"
    assert [type(e) for e in events[:2]] == [ReasoningDelta, ReasoningDelta]
    assert any(isinstance(e, TextDelta) and e.text == "Answer: 42" for e in events)
    assert result.text == "Answer: 42" and result.reasoning == "6 times 7 is 42."
    assert result.usage.reasoning_tokens == 5 and result.details["thinking"]["compressed"] is False
    model.assert_all_used()


async def test_a_spent_budget_closes_the_reasoning_and_forces_the_answer() -> None:
    model = ScriptedModel([_cut("six sevens are", 64), "Answer: 42"])
    result = await run_turn(ThinkingMode(budget=64), model, QUESTION, ModelSettings())
    prefix = model.calls[1].settings.assistant_prefix
    assert prefix.startswith("<think>\nsix sevens are") and "Time is up" in prefix
    assert prefix.endswith("</think>\n\n")
    assert result.details["thinking"]["compressed"] is True
    assert result.usage.reasoning_tokens == 64 and result.text == "Answer: 42"


@pytest.mark.parametrize(("budget", "told"), [(128, True), (511, True), (None, False), (2048, False)])
async def test_a_tight_budget_is_told_to_the_model(budget: int | None, told: bool) -> None:
    model = ScriptedModel(["6 times 7 is 42.", "Answer: 42"])
    await run_turn(ThinkingMode(budget=budget), model, QUESTION, ModelSettings())
    system = model.calls[0].messages[0]
    assert system.role == "system" and system.text.startswith("You are Ponder")
    assert (f"about {budget} tokens for thinking" in system.text) is told


async def test_an_empty_answer_is_retried_with_the_answer_started() -> None:
    model = ScriptedModel(["thought", "  ", " 42"])
    result = await run_turn(ThinkingMode(budget=10), model, QUESTION, ModelSettings())
    assert model.calls[2].settings.assistant_prefix.endswith("</think>\n\nAnswer:")
    assert result.text == "Answer: 42"


async def test_two_empty_answers_are_an_error_not_an_empty_reply() -> None:
    model = ScriptedModel(["thought", "", ""])
    with pytest.raises(BackendError, match="empty answer"):
        await run_turn(ThinkingMode(budget=10), model, QUESTION, ModelSettings())


async def test_a_structured_answer_follows_free_reasoning() -> None:
    schema = {"type": "object", "properties": {"product": {"type": "integer"}}, "required": ["product"]}
    model = ScriptedModel(["6 sevens are 42.", '{"product": 42}'])
    result = await run_turn(ThinkingMode(budget=50), model, QUESTION, ModelSettings(json_schema=schema))
    reasoning, answer = (c.settings for c in model.calls)
    assert reasoning.json_schema is None and answer.json_schema == schema
    assert result.text == '{"product": 42}' and result.reasoning == "6 sevens are 42."
