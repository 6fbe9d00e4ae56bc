"""Options shared by the commands that answer questions (``ask``, ``chat``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ponder.config import Settings
from ponder.models.base import ModelSettings
from ponder.modes import MODE_NAMES, ModeOptions
from ponder.modes.budgets import EFFORT_BUDGETS, MAX_AGENTS
from ponder.modes.programs import ProgramSandbox
from ponder.tools.runner import ToolRunner

if TYPE_CHECKING:
    from ponder.perception import Perception

__all__ = ["generation_options", "mode_options", "model_settings", "settings_flags"]

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    click.option(
        "--model", "-m", "model", default=None, help="Model spec, e.g. embedded:qwen2.5-coder-0.5b."
    ),
    click.option(
        "--mode",
        default=None,
        type=click.Choice(MODE_NAMES),
        help="Reasoning mode (default: auto, which picks one per turn and says why).",
    ),
    click.option(
        "--budget",
        type=click.IntRange(min=1),
        default=None,
        help="Reasoning tokens (thinking), or tokens per sub-agent (contemplating).",
    ),
    click.option(
        "--effort",
        "reasoning_effort",
        type=click.Choice(list(EFFORT_BUDGETS)),
        default=None,
        help="Reasoning effort when no --budget is given ("
        + ", ".join(f"{name}: {tokens}" for name, tokens in EFFORT_BUDGETS.items())
        + " tokens).",
    ),
    click.option(
        "--agents", type=click.IntRange(1, MAX_AGENTS), default=None, help="Sub-agents for contemplating (4)."
    ),
    click.option(
        "--adaptive/--no-adaptive",
        default=None,
        help="Contemplating: run a first pair of agents, and the rest only if the pair disagrees (on).",
    ),
    click.option(
        "--programs/--no-programs",
        default=None,
        help="Contemplating: let some sub-agents solve by writing programs that run in the sandbox (on).",
    ),
    click.option(
        "--tools",
        multiple=True,
        default=None,
        help="Tools the model may call (repeatable, or comma-separated): python (the sandbox), a "
        "configured MCP server's name, MODULE:NAME or MODULE (your @tool functions).",
    ),
    click.option("--show-thinking", is_flag=True, help="Show the reasoning (on stderr) as it happens."),
    click.option("--max-tokens", type=click.IntRange(min=1), default=None, help="Most answer tokens."),
    click.option(
        "--temperature", type=click.FloatRange(0.0, 2.0), default=None, help="Sampling temperature."
    ),
    click.option("--seed", type=int, default=None, help="Sampling seed, for repeatable answers."),
    click.option("--stop", multiple=True, help="Stop sequence (repeatable)."),
    click.option(
        "--system", "system_prompt", default=None, help="System prompt to use instead of the mode's."
    ),
    click.option("--context-length", type=click.IntRange(min=256), default=None, help="Context window."),
    click.option("--threads", type=click.IntRange(min=1), default=None, help="Fix llama.cpp's thread count."),
]


def generation_options(func: F) -> F:
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def settings_flags(options: dict[str, Any]) -> dict[str, Any]:
    """The options that are settings (the rest, like ``stop``, apply per request)."""
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in options.items()
        if name in Settings.model_fields and value != ()  # a repeatable flag not given: ()
    }


def model_settings(settings: Settings, stop: tuple[str, ...] = ()) -> ModelSettings:
    return ModelSettings(
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        seed=settings.seed,
        stop=tuple(stop),
    )


def mode_options(
    settings: Settings,
    tools: ToolRunner | None = None,
    sandbox: ProgramSandbox | None = None,
    perception: Perception | None = None,
) -> ModeOptions:
    return ModeOptions(
        system_prompt=settings.system_prompt,
        budget=settings.budget,
        effort=settings.reasoning_effort,
        agents=settings.agents,
        adaptive=settings.adaptive,
        tools=tools,
        sandbox=sandbox,
        perception=perception,
    )
