"""Options shared by the commands that answer questions (``ask``, ``chat``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ponder.config import Settings
from ponder.memory.owner import DEFAULT_USER, LOCAL_ACCOUNT, Owner
from ponder.models.base import ModelSettings
from ponder.modes.budgets import EFFORT_BUDGETS, MAX_AGENTS
from ponder.modes.registry import MODE_CHOICES, PRESET_NAMES

__all__ = [
    "generation_options",
    "memory_options",
    "model_settings",
    "owner_of",
    "settings_flags",
    "without_memory",
]

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    click.option(
        "--model", "-m", "model", default=None, help="Model spec, e.g. embedded:qwen2.5-coder-0.5b."
    ),
    click.option(
        "--mode",
        default=None,
        type=click.Choice(MODE_CHOICES),
        help="Reasoning mode (default: auto, which picks one per turn and says why); shopping: auto under "
        "the shopping preset.",
    ),
    click.option(
        "--preset",
        default=None,
        type=click.Choice(PRESET_NAMES),
        help="Run the mode under a preset: shopping (the store's tools and policy).",
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


_MEMORY_OPTIONS = [
    click.option(
        "--user",
        "user",
        default=None,
        help=f"Whose sessions, memories and interests this uses (default: {DEFAULT_USER}).",
    ),
    click.option("--project", default=None, help="A project: its memories are kept apart from others'."),
    click.option("--session", "session_id", default=None, help="Resume (or start) the session with this id."),
    click.option(
        "--no-memory",
        is_flag=True,
        help="Neither recall nor learn facts about the user in this run (the turns are still stored).",
    ),
]


def memory_options(func: F) -> F:
    for option in reversed(_MEMORY_OPTIONS):
        func = option(func)
    return func


def owner_of(options: dict[str, Any]) -> Owner:
    """The local account's user (``--user``, default ``me``) in ``--project``, if any."""
    return Owner(LOCAL_ACCOUNT, options.get("user") or DEFAULT_USER, options.get("project") or "")


def without_memory(settings: Settings, options: dict[str, Any]) -> Settings:
    """The settings with recall and extraction off when ``--no-memory`` was given."""
    if not options.get("no_memory"):
        return settings
    return settings.model_copy(update={"memory": settings.memory.model_copy(update={"enabled": False})})


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
