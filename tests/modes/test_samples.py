"""Several answers to one turn, as branches of one conversation."""

import pytest

from ponder.errors import BackendError, UserError
from ponder.messages import ChoiceDelta, Message, TextDelta
from ponder.models.base import ModelSettings
from ponder.modes import ModeOptions, get_mode
from ponder.modes.samples import SamplesMode
from ponder.testing import ScriptedModel
from ponder.turn import run_turn

QUESTION = [Message.user("Name a colour.")]


async def test_each_answer_has_its_seed_and_the_first_is_the_reply() -> None:
    model = ScriptedModel(["red", "blue", "green"])
    events: list[object] = []
    result = await run_turn(SamplesMode(samples=3), model, QUESTION, ModelSettings(seed=5), events.append)
    assert [c.settings.seed for c in model.calls] == [5, 6, 7]
    assert result.text == "red"
    assert [(c["index"], c["text"]) for c in result.details["choices"]] == [(1, "blue"), (2, "green")]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["red"]
    assert sorted((e.index, e.text) for e in events if isinstance(e, ChoiceDelta)) == [
        (1, "blue"),
        (2, "green"),
    ]
    each = [
        (await ScriptedModel([t]).request(QUESTION, ModelSettings())).usage.completion_tokens for t in "rbg"
    ]
    assert result.usage.completion_tokens == sum(each) > each[0]  # every answer's tokens are counted


async def test_a_failed_answer_fails_the_turn() -> None:
    model = ScriptedModel(["red", RuntimeError("engine fell over")])
    with pytest.raises(BackendError, match="answer 2 of 2 failed: engine fell over"):
        await run_turn(SamplesMode(samples=2), model, QUESTION, ModelSettings())


def test_only_instant_samples_several_answers() -> None:
    assert isinstance(get_mode("instant", ModeOptions(samples=3)), SamplesMode)
    assert isinstance(get_mode("auto", ModeOptions(samples=3)), SamplesMode)
    for name in ("thinking", "contemplating"):
        with pytest.raises(UserError, match="Instant"):
            get_mode(name, ModeOptions(samples=2))
