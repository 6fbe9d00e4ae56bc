"""Prompt templates, kept as data files beside this module and read with importlib.resources.

``load_prompt(name)`` reads ``<name>.txt``: instant, thinking, thinking_budget and thinking_compress (the
modes), contemplating_angles, contemplating_program and synthesize (Contemplating's planner, program agents
and merge), tools (tool use), shopping (the shopping preset's policy) and memory_extract (post-turn
learning).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

__all__ = ["load_prompt"]


@cache
def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>.txt``, without its trailing newline."""
    return files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")
