"""Reasoning modes: ways to spend compute on a turn, chosen per request.

``instant`` answers in one pass; ``thinking`` reasons under a token budget, then answers; ``contemplating``
runs several sub-agents at once and votes; ``auto`` routes each turn to one of the three. The names, and
the table that builds each mode, are in ``registry.py``; ``scaffolding.py`` keeps a mode's own markers
(the forced ``Answer:``) out of what the person reads.

  base.py           Mode: configuration plus ``run``, a stream of events
  registry.py       ModeName, ModeOptions, get_mode, the choices every surface offers
  router.py         route(): the cheap per-turn pick; AutoMode for running it as a mode
  instant.py, thinking.py, contemplating.py   the modes; acting.py their tool loop
  answers.py, budgets.py, programs.py         votes, reasoning budgets, program agents
  scaffolding.py    strips the forced answer prefix from the reply
"""

from __future__ import annotations

from ponder.modes.base import Mode
from ponder.modes.contemplating import ContemplatingMode
from ponder.modes.instant import InstantMode
from ponder.modes.registry import (
    MODE_CHOICES,
    MODE_NAMES,
    PRESET_NAMES,
    REASONING_MODES,
    ModeChoice,
    ModeName,
    ModeOptions,
    PresetName,
    get_mode,
)
from ponder.modes.router import AutoMode, route
from ponder.modes.thinking import ThinkingMode

__all__ = [
    "MODE_CHOICES",
    "MODE_NAMES",
    "PRESET_NAMES",
    "REASONING_MODES",
    "AutoMode",
    "ContemplatingMode",
    "InstantMode",
    "Mode",
    "ModeChoice",
    "ModeName",
    "ModeOptions",
    "PresetName",
    "ThinkingMode",
    "get_mode",
    "route",
]
