"""Prompt templates, kept as data files beside this module and read with importlib.resources."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

__all__ = ["load_prompt"]


@cache
def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>.txt``, without its trailing newline."""
    return files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")
