"""The reasoning modes by name: one ``ModeName`` type, one table that builds each, and what a surface offers.

Every place that names a mode imports it from here: the settings (``config.py``), the API's request model
(``server/protocol.py``), the CLI's ``--mode`` choice and the modes the web page lists (``/v1/models``).
``shopping`` is not a mode but a preset (the store's tools and policy, ``ponder.commerce.mode``) that any
mode can run under; as a mode name it stays an alias of ``auto`` under that preset.

It does not route (``modes/router.py``) or run a turn (``ponder.conversation``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from ponder.errors import UserError
from ponder.modes.base import Mode
from ponder.modes.contemplating import ContemplatingMode
from ponder.modes.instant import InstantMode
from ponder.modes.router import AutoMode
from ponder.modes.samples import MAX_SAMPLES, SamplesMode
from ponder.modes.thinking import ThinkingMode

if TYPE_CHECKING:
    from ponder.modes.programs import ProgramSandbox
    from ponder.tools.runner import ToolRunner

__all__ = [
    "MODE_CHOICES",
    "MODE_NAMES",
    "PRESET_NAMES",
    "REASONING_MODES",
    "ModeChoice",
    "ModeName",
    "ModeOptions",
    "PresetName",
    "ReasoningMode",
    "Selection",
    "get_mode",
    "mode_catalog",
    "select",
]

ReasoningMode = Literal["instant", "thinking", "contemplating"]  # what a turn actually runs
ModeName = Literal[ReasoningMode, "auto"]  # auto: the router picks one of the three per turn
PresetName = Literal["shopping"]  # tools + policy prompt + routing bias, under any mode
ModeChoice = Literal[ModeName, PresetName]  # what a person may ask for: a mode, or a preset (under auto)

REASONING_MODES: tuple[ReasoningMode, ...] = get_args(ReasoningMode)
MODE_NAMES: tuple[ModeName, ...] = (*REASONING_MODES, "auto")
PRESET_NAMES: tuple[PresetName, ...] = get_args(PresetName)
MODE_CHOICES: tuple[ModeChoice, ...] = (*MODE_NAMES, *PRESET_NAMES)

# name -> (label, what it does): for the pages and lists that offer the choice
_DESCRIPTIONS: dict[ModeChoice, tuple[str, str]] = {
    "auto": ("Auto", "picks instant, thinking or contemplating per turn, and says why"),
    "instant": ("Instant", "one pass, the fastest answer"),
    "thinking": ("Thinking", "reasons under a token budget, then answers"),
    "contemplating": ("Contemplating", "several sub-agents at once, then a vote"),
    "shopping": ("Shopping", "the store's tools and policy (a preset, under auto)"),
}


@dataclass(frozen=True)
class ModeOptions:
    system_prompt: str | None = None
    budget: int | None = None  # reasoning tokens (Thinking), or per sub-agent (Contemplating)
    effort: str | None = None  # low | medium | high, when no budget is given
    agents: int = 4
    adaptive: bool = True  # contemplating: a first pair of agents, the rest only if they disagree
    tools: ToolRunner | None = None  # what the model may call; None: no tools
    sandbox: ProgramSandbox | None = None  # contemplating: program agents run their code here
    samples: int = 1  # answers to the turn (OpenAI's n): more than 1 only in Instant, without tools


@dataclass(frozen=True)
class Selection:
    """What a request selected: the mode (``auto`` routes per turn) and the preset it runs under, if any."""

    mode: ModeName
    preset: PresetName | None = None


def select(mode: str | None, preset: str | None = None, default: str = "auto") -> Selection:
    """The selection that ``mode`` (or ``default``) and ``preset`` name; ``shopping`` as a mode is auto under
    the shopping preset. Unknown names are a UserError that lists the allowed ones."""
    name = mode or default
    if name in PRESET_NAMES:  # "shopping" as a mode: auto under the shopping preset
        preset, name = preset or name, "auto"
    if name not in MODE_NAMES:
        raise UserError(f"Unknown mode '{name}'. Allowed modes: {', '.join(MODE_CHOICES)}.")
    if preset is not None and preset not in PRESET_NAMES:
        raise UserError(f"Unknown preset '{preset}'. Allowed presets: {', '.join(PRESET_NAMES)}.")
    return Selection(name, preset)  # both narrowed by the checks above


def _instant(o: ModeOptions) -> Mode:
    if o.samples > 1:
        if o.tools is not None and o.tools.tools:
            raise UserError("Several answers (n > 1) cannot call tools: leave out tools, or ask for one.")
        return SamplesMode(o.system_prompt, samples=min(o.samples, MAX_SAMPLES))
    return InstantMode(o.system_prompt, tools=o.tools)


def _one_answer(o: ModeOptions, mode: str) -> None:
    if o.samples > 1:
        raise UserError(f"Several answers (n > 1) are sampled in the Instant mode, not in {mode}.")


def _thinking(o: ModeOptions) -> Mode:
    _one_answer(o, "thinking")
    return ThinkingMode(o.system_prompt, budget=o.budget, effort=o.effort, tools=o.tools)


def _contemplating(o: ModeOptions) -> Mode:
    _one_answer(o, "contemplating")
    return ContemplatingMode(
        o.system_prompt,
        agents=o.agents,
        budget=o.budget,
        effort=o.effort,
        adaptive=o.adaptive,
        tools=o.tools,
        sandbox=o.sandbox,
    )


def _auto(o: ModeOptions) -> Mode:
    if o.samples > 1:  # several answers are Instant's, whatever the router would pick
        return _instant(o)
    return AutoMode({name: _BUILDERS[name](o) for name in REASONING_MODES})


_BUILDERS: dict[ModeName, Callable[[ModeOptions], Mode]] = {
    "instant": _instant,
    "thinking": _thinking,
    "contemplating": _contemplating,
    "auto": _auto,
}


def get_mode(name: str, options: ModeOptions | None = None) -> Mode:
    """The mode ``name`` configured by ``options``; an unknown name is a UserError naming the allowed ones."""
    if name not in MODE_NAMES:
        allowed = ", ".join(MODE_NAMES)
        hint = f" ({name} is a preset: run a mode under it)" if name in PRESET_NAMES else ""
        raise UserError(f"Unknown mode '{name}'{hint}. Allowed modes: {allowed}.")
    return _BUILDERS[name](options or ModeOptions())


def mode_catalog() -> list[dict[str, str]]:
    """What a surface offers, modes then presets: ``kind``, ``name``, ``label`` and ``about`` each."""
    return [
        {"kind": "preset" if name in PRESET_NAMES else "mode", "name": name, "label": label, "about": about}
        for name, (label, about) in _DESCRIPTIONS.items()
    ]
