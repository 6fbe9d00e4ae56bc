"""Reasoning modes: ways to spend compute on a turn. Instant today; Thinking and Contemplating next."""

from ponder.errors import UserError
from ponder.modes.base import Mode
from ponder.modes.instant import InstantMode

__all__ = ["MODES", "InstantMode", "Mode", "get_mode"]

MODES: dict[str, type[Mode]] = {InstantMode.name: InstantMode}


def get_mode(name: str, *, system_prompt: str | None = None) -> Mode:
    if name not in MODES:
        raise UserError(f"Unknown mode '{name}'. Available modes: {', '.join(MODES)}.")
    return MODES[name](system_prompt=system_prompt)
