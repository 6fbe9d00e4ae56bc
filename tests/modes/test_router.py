import pytest

from ponder.errors import UserError
from ponder.messages import AudioPart, Message
from ponder.modes import MODE_CHOICES, MODE_NAMES, ModeOptions, get_mode, route
from ponder.modes.budgets import reasoning_budget
from ponder.modes.registry import select


@pytest.mark.parametrize(
    ("question", "mode"),
    [
        ("What is the capital of France?", "instant"),
        ("Natalia sold clips to 48 friends in April and half as many in May. How many in total?", "thinking"),
        ("Why does ice float on water?", "thinking"),
        (
            "A shop sells pens at $2 and pads at $5. Ann buys 3 pens and 4 pads, Bob buys 6 pens and 1 pad, "
            "Cid buys twice what Ann buys. They pay with a $100 note. How much change do they get in total?",
            "contemplating",
        ),
    ],
)
def test_router_picks_by_the_shape_of_the_request(question: str, mode: str) -> None:
    chosen, reason = route([Message.user(question)])
    assert chosen == mode and reason


def test_a_voice_turn_prefers_instant() -> None:
    turn = Message("user", (AudioPart(b"RIFF", "audio/wav"),))
    assert route([turn])[0] == "instant"


def test_unknown_mode_names_the_allowed_ones() -> None:
    with pytest.raises(UserError, match="Allowed modes: instant, thinking, contemplating, auto, shopping"):
        select("pondering")
    with pytest.raises(UserError, match="Allowed modes: instant, thinking, contemplating, auto"):
        get_mode("pondering")
    assert set(MODE_NAMES) == {"instant", "thinking", "contemplating", "auto"}
    assert set(MODE_CHOICES) == {*MODE_NAMES, "shopping"}  # shopping: a preset, still a --mode choice


@pytest.mark.parametrize("agents", [0, -1, 1000])
def test_absurd_agent_counts_are_refused(agents: int) -> None:
    with pytest.raises(UserError, match="between 1 and 16"):
        get_mode("contemplating", ModeOptions(agents=agents))


@pytest.mark.parametrize("budget", [0, -5])
def test_non_positive_budgets_are_refused(budget: int) -> None:
    with pytest.raises(UserError, match="positive"):
        get_mode("thinking", ModeOptions(budget=budget))


def test_effort_maps_to_budgets_and_a_budget_wins() -> None:
    assert reasoning_budget(None, "low") == 256
    assert reasoning_budget(None, "high") == 1024
    assert reasoning_budget(77, "high") == 77
    with pytest.raises(UserError, match="low \\(256 tokens\\)"):
        reasoning_budget(None, "extreme")
