"""Finding toolsets by name: what ``--tools`` and the ``tools`` setting accept.

A name is one of:

* ``python``: the built-in sandboxed Python tool (ponder.tools.python);
* the name of an MCP server configured under ``[mcp_servers.NAME]``: its tools, as ``NAME.tool``;
* ``MODULE:NAME``: an importable module attribute that is a ``Toolset``, a list of tools or ``@tool``
  functions, or one ``@tool`` function;
* ``MODULE``: every ``Toolset`` and ``@tool`` function defined at the top level of an importable module.

Modules are imported from ``sys.path`` plus the current directory (as ``python -m`` does). Nothing is
connected or started here: MCP servers connect and the sandbox starts when their tools are first listed.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ponder.config import Settings
from ponder.errors import UserError

if TYPE_CHECKING:
    from ponder.sandbox.lazy import LazySandbox
    from ponder.store.database import Database
    from ponder.tools.mcp import ApprovalStore
from ponder.tools.base import Tool, tool_of
from ponder.tools.toolset import FunctionToolset, Toolset

__all__ = ["import_toolset", "load_toolsets", "split_names"]

BUILTIN = ("python",)


def split_names(values: Sequence[str]) -> list[str]:
    """``--tools a,b --tools c`` -> ["a", "b", "c"], without blanks or repeats."""
    names = [n.strip() for value in values for n in value.split(",")]
    return list(dict.fromkeys(n for n in names if n))


def load_toolsets(
    names: Sequence[str],
    settings: Settings,
    *,
    sandbox: LazySandbox | None = None,
    db: Database | None = None,
) -> list[Toolset]:
    """The toolsets ``names`` name; the python tool runs its programs in ``sandbox`` when given (one pool
    for every program of the process), else in a pool of its own; MCP servers' approvals are read from
    ``db`` (the server's), else the settings' database."""
    toolsets: list[Toolset] = []
    approvals: ApprovalStore | None = None
    for name in split_names(names):
        if name == "python":
            from ponder.tools.python import PythonToolset

            toolsets.append(PythonToolset(settings, shared=sandbox))
        elif name in settings.mcp_servers:
            from ponder.tools.mcp import McpToolset, open_approvals

            approvals = approvals or open_approvals(settings, db)
            toolsets.append(McpToolset(name, settings.mcp_servers[name], approvals))
        else:
            toolsets.append(import_toolset(name, known=[*BUILTIN, *settings.mcp_servers]))
    return toolsets


def import_toolset(spec: str, known: Sequence[str] = BUILTIN) -> Toolset:
    """The toolset named by ``MODULE:NAME`` or ``MODULE`` (see the module docstring)."""
    module_name, _, attribute = spec.partition(":")
    module = _import(spec, module_name, known)
    if not attribute:
        return _module_toolset(spec, module)
    try:
        value: Any = functools.reduce(getattr, attribute.split("."), module)
    except AttributeError:
        raise UserError(f"Tools '{spec}': {module_name} has no attribute {attribute}.") from None
    if isinstance(value, Toolset):
        return value
    items = value if isinstance(value, list | tuple) else [value]
    try:
        return FunctionToolset(attribute, [i if isinstance(i, Tool) else tool_of(i) for i in items])
    except TypeError as err:
        raise UserError(
            f"Tools '{spec}': not a Toolset, a list of tools or a @tool function ({err})."
        ) from None


def _import(spec: str, module_name: str, known: Sequence[str]) -> ModuleType:
    if not module_name:
        raise UserError(f"Tools '{spec}': expected MODULE:NAME or MODULE, e.g. mypackage.tools:toolset.")
    if os.getcwd() not in sys.path:  # as `python -m` does: modules next to where ponder runs are found
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        raise UserError(
            f"Unknown tools '{spec}': not one of {', '.join(known)}, and no module of that name can be "
            f"imported ({err})."
        ) from None


def _module_toolset(spec: str, module: ModuleType) -> Toolset:
    """Every Toolset and @tool function at the top level of ``module``, as one toolset."""
    found = list(vars(module).values())
    toolsets = [value for value in found if isinstance(value, Toolset)]
    if len(toolsets) == 1 and not isinstance(toolsets[0], FunctionToolset):
        return toolsets[0]
    if any(not isinstance(t, FunctionToolset) for t in toolsets):
        raise UserError(f"Tools '{spec}': the module holds several toolsets; name one, as {spec}:NAME.")
    tools: dict[str, Tool] = {}
    for toolset in toolsets:
        assert isinstance(toolset, FunctionToolset)
        tools.update({t.name: t for t in toolset.tools})
    for value in found:
        attached = getattr(value, "__ponder_tool__", None) if callable(value) else None
        if isinstance(attached, Tool) and attached.name not in tools:
            tools[attached.name] = attached
    if not tools:
        raise UserError(f"Tools '{spec}': the module defines no Toolset and no @tool function.")
    return FunctionToolset(spec, tools.values())
