"""Reasoning modes: ways to spend compute on a turn, chosen per request.

``instant`` answers in one pass; ``thinking`` reasons under a token budget, then answers; ``contemplating``
runs several sub-agents at once and votes; ``auto`` routes each turn to one of the three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ponder.errors import UserError
from ponder.modes.base import Mode
from ponder.modes.contemplating import ContemplatingMode
from ponder.modes.instant import InstantMode
from ponder.modes.programs import ProgramSandbox
from ponder.modes.router import AutoMode, route
from ponder.modes.thinking import ThinkingMode
from ponder.tools.runner import ToolRunner

if TYPE_CHECKING:
    from ponder.perception import Perception

__all__ = [
    "MODE_NAMES",
    "AutoMode",
    "ContemplatingMode",
    "InstantMode",
    "Mode",
    "ModeOptions",
    "ThinkingMode",
    "get_mode",
    "route",
]

# shopping is auto with the store's tools and policy: the caller adds them (ponder.commerce.mode)
MODE_NAMES = ("instant", "thinking", "contemplating", "auto", "shopping")
REASONING_MODES = ("instant", "thinking", "contemplating")


@dataclass(frozen=True)
class ModeOptions:
    system_prompt: str | None = None
    budget: int | None = None  # reasoning tokens (Thinking), or per sub-agent (Contemplating)
    effort: str | None = None  # low | medium | high, when no budget is given
    agents: int = 4
    adaptive: bool = True  # contemplating: a first pair of agents, the rest only if they disagree
    tools: ToolRunner | None = None  # what the model may call; None: no tools
    sandbox: ProgramSandbox | None = None  # contemplating: program agents run their code here
    perception: Perception | None = None  # images and audio to text first; None: media parts are refused


def get_mode(name: str, options: ModeOptions | None = None) -> Mode:
    o = options or ModeOptions()
    mode = _mode(name, o)
    if o.perception is None:
        return mode
    from ponder.modes.perceiving import PerceivingMode

    return PerceivingMode(mode, o.perception)


def _mode(name: str, o: ModeOptions) -> Mode:
    if name == "instant":
        return InstantMode(o.system_prompt, tools=o.tools)
    if name == "thinking":
        return ThinkingMode(o.system_prompt, budget=o.budget, effort=o.effort, tools=o.tools)
    if name == "contemplating":
        return ContemplatingMode(
            o.system_prompt,
            agents=o.agents,
            budget=o.budget,
            effort=o.effort,
            adaptive=o.adaptive,
            tools=o.tools,
            sandbox=o.sandbox,
        )
    if name in ("auto", "shopping"):
        return AutoMode({n: _mode(n, o) for n in REASONING_MODES}, name=name)
    raise UserError(f"Unknown mode '{name}'. Allowed modes: {', '.join(MODE_NAMES)}.")
