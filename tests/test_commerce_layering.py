"""The package layering: ``ponder.commerce`` is the domain and never reaches into the HTTP layer.

Commerce returns typed views and ``PonderError``s; ``ponder.server`` (and the UCP adapter) turn them into
HTTP answers. So no module of ``ponder.commerce`` imports ``ponder.server``, FastAPI or Starlette, at the top
of the file or inside a function. Read from the source with ``ast``, so an import hidden in a function body
counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ponder.commerce

COMMERCE = Path(ponder.commerce.__file__).parent
FORBIDDEN = ("ponder.server", "fastapi", "starlette")


def imported_modules(source: str, package: str) -> list[str]:
    """Every module ``source`` (a module of ``package``) imports, relative imports resolved."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            found.append(".".join(x for x in (base, node.module) if x))
    return found


def is_forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def test_no_commerce_module_imports_the_server_or_a_web_framework() -> None:
    sources = sorted(COMMERCE.rglob("*.py"))
    assert len(sources) > 10  # the package was found
    offending = []
    for path in sources:
        package = ".".join(("ponder", *path.relative_to(COMMERCE.parent).parts[:-1]))
        for module in imported_modules(path.read_text(encoding="utf-8"), package):
            if is_forbidden(module):
                offending.append(f"{path.relative_to(COMMERCE.parent)} imports {module}")
    assert offending == []


def test_the_check_sees_imports_inside_functions_and_relative_ones() -> None:
    source = (
        "import json\n"
        "from . import orders\n"
        "def f():\n"
        "    from ponder.server.errors import ApiError\n"
        "    import starlette.responses\n"
        "    from ..server import app\n"
    )
    found = imported_modules(source, "ponder.commerce")
    assert found == [
        "json",
        "ponder.commerce",
        "ponder.server.errors",
        "starlette.responses",
        "ponder.server",
    ]
    assert [m for m in found if is_forbidden(m)] == [
        "ponder.server.errors",
        "starlette.responses",
        "ponder.server",
    ]
