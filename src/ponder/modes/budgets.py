"""Reasoning budgets: what ``reasoning_effort`` means in tokens, and the checks on a budget or agent count."""

from __future__ import annotations

from typing import Literal, TypeAlias

from ponder.errors import UserError
from ponder.prompts import load_prompt

__all__ = ["EFFORT_BUDGETS", "MAX_AGENTS", "Effort", "budget_note", "check_agents", "reasoning_budget"]

Effort: TypeAlias = Literal["low", "medium", "high"]
EFFORT_BUDGETS: dict[str, int] = {"low": 256, "medium": 512, "high": 1024}
MAX_AGENTS = 16  # beyond this a CPU batch step costs more than the agents are worth
# The default budget fits the reasoning a model usually writes (the 1.5B default: a median of about 240
# tokens on GSM8K, 2 of 100 compressed at 512). Below it the budget is tight, and the model is told it.
TIGHT_BELOW = EFFORT_BUDGETS["medium"]


def reasoning_budget(budget: int | None, effort: str | None, default: int = EFFORT_BUDGETS["medium"]) -> int:
    """The token budget for reasoning: an explicit budget wins over an effort level."""
    if budget is not None:
        if budget < 1:
            raise UserError(f"The reasoning budget must be a positive number of tokens, not {budget}.")
        return budget
    if effort is not None:
        if effort not in EFFORT_BUDGETS:
            allowed = ", ".join(f"{k} ({v} tokens)" for k, v in EFFORT_BUDGETS.items())
            raise UserError(f"Unknown reasoning effort '{effort}'. Allowed: {allowed}.")
        return EFFORT_BUDGETS[effort]
    return default


def check_agents(agents: int) -> int:
    if not 1 <= agents <= MAX_AGENTS:
        raise UserError(f"Contemplating runs between 1 and {MAX_AGENTS} sub-agents, not {agents}.")
    return agents


def budget_note(budget: int) -> str | None:
    """The sentence that tells the model a tight budget (so it plans short reasoning), or None."""
    if budget >= TIGHT_BELOW:
        return None
    return load_prompt("thinking_budget").format(budget=budget, words=int(budget * 0.7))
