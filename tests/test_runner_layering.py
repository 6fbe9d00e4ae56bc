"""A turn has one owner: outside the conversation runner, no module recalls, perceives, routes or learns.

Read from the source (the AST of every module under ``src/ponder``): a call to one of a turn's stages
(``before_turn`` or ``recall``; ``perceive``; ``route``; ``after_turn``, memory's ``learn`` or ``extract``)
may only sit in ``ponder/conversation.py`` or in the package that defines the stage. Plain transcription
(``/v1/audio/transcriptions``, ``ponder listen``) calls the recogniser, not perception, and passes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ponder

SRC = Path(ponder.__file__).resolve().parent
RUNNER = "conversation.py"

# method name -> the stage it is (these names belong to the stages' own APIs)
STAGE_METHODS = {
    "before_turn": "recall",
    "recall": "recall",
    "perceive": "perception",
    "perceive_sync": "perception",
    "after_turn": "storing the turn",
}
# (module, function) -> the stage, for functions called by name once imported
STAGE_FUNCTIONS = {
    ("ponder.modes.router", "route"): "routing",
    ("ponder.modes", "route"): "routing",
    ("ponder.memory.extraction", "extract"): "post-turn learning",
}
# where a stage is defined, and may call itself
OWNERS = {
    "recall": ("memory/",),
    "perception": ("perception/",),
    "routing": ("modes/router.py",),
    "storing the turn": ("memory/",),
    "post-turn learning": ("memory/",),
}


def _stage_calls(path: Path) -> list[tuple[int, str]]:
    """(line, stage) for each use in ``path`` of one of a turn's stages."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: dict[str, str] = {}  # local name -> stage
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                stage = STAGE_FUNCTIONS.get((node.module, alias.name))
                if stage is not None:
                    imported[alias.asname or alias.name] = stage
    uses: list[tuple[int, str]] = []  # a call, or the method handed on (to a worker thread) to be called
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in imported and isinstance(node.ctx, ast.Load):
            uses.append((node.lineno, imported[node.id]))
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            if node.attr in STAGE_METHODS:
                uses.append((node.lineno, STAGE_METHODS[node.attr]))
            elif node.attr == "learn" and _is_memory(node.value):  # MemoryService.learn
                uses.append((node.lineno, "post-turn learning"))
    return uses


def _is_memory(receiver: ast.expr) -> bool:
    """Whether ``receiver.learn`` is memory's (a ``MemoryService``: ``memory``, ``state.memory``,
    ``conversation.sessions()``), not a turn's or a surface's own ``learn``."""
    text = ast.unparse(receiver)
    return "memory" in text or text.endswith("sessions()")


def _modules() -> list[tuple[str, Path]]:
    return [(path.relative_to(SRC).as_posix(), path) for path in sorted(SRC.rglob("*.py"))]


def test_only_the_runner_calls_a_turns_stages() -> None:
    outside = [
        f"{name}:{line} calls {stage}"
        for name, path in _modules()
        if name != RUNNER
        for line, stage in _stage_calls(path)
        if not name.startswith(OWNERS[stage])
    ]
    assert outside == [], "only ponder/conversation.py runs a turn's stages:\n" + "\n".join(outside)


def test_the_runner_is_where_they_are_called() -> None:
    stages = {stage for _, stage in _stage_calls(SRC / RUNNER)}
    assert stages == set(OWNERS)  # the check above finds each kind of call, so it can fail


def test_a_surface_calling_the_router_is_caught(tmp_path: Path) -> None:
    surface = tmp_path / "surface.py"
    surface.write_text(
        "from ponder.modes.router import route\n"
        "def price(state, messages):\n"
        "    mode, _ = route(messages)\n"
        "    state.memory.learn(None, None)\n"
        "    return state.perception.perceive(messages)\n"
    )
    assert [stage for _, stage in _stage_calls(surface)] == ["routing", "post-turn learning", "perception"]
