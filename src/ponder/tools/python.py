"""The built-in ``python`` tool: the model writes a program, the sandbox runs it, the output comes back.

The program runs only inside ponder.sandbox (a bubblewrap or Landlock jail with seccomp, rlimits and
cgroups; see that package). Nothing here executes model-written code in Ponder's own process or in an
unjailed subprocess: where no jail works, starting the toolset fails with the sandbox's error and the tool
is not offered. The program talks to the host only over stdin and stdout; numpy is available inside.

A program that exits non-zero, runs out of time or prints too much is an error result for the model (with
what it printed), not a crash of the turn. One toolset holds one jail pool (``sandbox.pool_size`` jails, so
that many programs at once; the calls of every turn and request sharing the toolset wait their turn, each for
at most ``sandbox.wait_s``), or uses the pool it is given (``shared``: the server's one pool, which
Contemplating's program agents use too, so programs of every kind together stay within ``pool_size``),
and a turn runs at most ``sandbox.python_calls_per_turn`` programs: calls past that get an error result.
As in a notebook, a program that ends with a bare expression has that expression's value printed (small
models often write ``2**100`` and expect to see the result); the code is only parsed on the host, never
run there.
"""

from __future__ import annotations

import ast
import asyncio
from typing import TYPE_CHECKING, Any

from ponder.config import SandboxConfig, Settings
from ponder.tools.base import Tool, ToolContext, ToolError
from ponder.tools.toolset import Toolset

if TYPE_CHECKING:
    from ponder.sandbox.lazy import LazySandbox

__all__ = ["PythonToolset", "echo_last_expression", "format_run"]

DESCRIPTION = (
    "Run a Python 3 program in a sandbox and get what it prints. Use it to compute, check arithmetic, "
    "or transform data. The program has no network and no files except a small scratch /tmp; numpy is "
    "available. Print every result you need: only stdout and stderr come back."
)
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "The complete program, e.g. print(17 * 23)"},
        "stdin": {"type": "string", "description": "Text given to the program on standard input"},
    },
    "required": ["code"],
    "additionalProperties": False,
}


class PythonToolset(Toolset):
    name = "python"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        pool_size: int | None = None,
        shared: LazySandbox | None = None,
    ) -> None:
        config = settings.sandbox if settings is not None else SandboxConfig()
        self._shared = shared  # a pool owned by the caller (closed by it, not here)
        self._pool_size = pool_size or config.pool_size
        self._wait_s = config.wait_s
        self._per_turn = config.python_calls_per_turn
        self._sandbox: Any = None  # ponder.sandbox.Sandbox, started on first use
        self._lock = asyncio.Lock()

    @property
    def sandbox(self) -> Any:
        """The jail pool (a ``ponder.sandbox.Sandbox``) once started, else None."""
        return self._sandbox

    async def list_tools(self) -> list[Tool]:
        await self._started()  # a toolset whose jail cannot start offers nothing: the error says why
        return [Tool("python", DESCRIPTION, PARAMETERS, invoke=self._run, max_calls_per_turn=self._per_turn)]

    async def _started(self) -> Any:
        if self._shared is not None:
            return await self._shared.start()
        async with self._lock:
            if self._sandbox is None:
                from ponder.sandbox import Sandbox

                self._sandbox = await Sandbox.start(pool_size=self._pool_size, wait_s=self._wait_s)
            return self._sandbox

    async def _run(self, _context: ToolContext, arguments: dict[str, Any]) -> str:
        sandbox = await self._started()
        code = echo_last_expression(str(arguments["code"]))
        result = await sandbox.run(code, str(arguments.get("stdin") or ""))
        text = format_run(result)
        if result.exit_code != 0 or result.timed_out:
            raise ToolError(text)
        return text

    async def aclose(self) -> None:
        if self._sandbox is not None:
            await self._sandbox.aclose()
            self._sandbox = None


def echo_last_expression(code: str) -> str:
    """``code`` with its final bare expression printed, as a notebook cell shows it (parsed, not run)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code  # the jail reports the error, with its line
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return code
    last = tree.body[-1]
    if (
        isinstance(last.value, ast.Call)
        and isinstance(last.value.func, ast.Name)
        and last.value.func.id == "print"
    ):
        return code
    expression = ast.get_source_segment(code, last.value)
    if expression is None:
        return code
    lines = code.splitlines()
    start = last.lineno - 1
    head = lines[start][: last.col_offset]  # statements before it on its line ("x = 1; x")
    value = f"{head}__value = ({expression})"
    return "\n".join([*lines[:start], value, "if __value is not None: print(repr(__value))", ""])


def format_run(result: Any) -> str:
    """What the model reads about a run: its output, and how it ended when that matters."""
    parts = []
    if result.timed_out:
        parts.append(f"The program was stopped after {result.duration_s:.1f} s (time limit).")
    elif result.exit_code != 0:
        parts.append(f"The program exited with code {result.exit_code}.")
    if result.output_truncated:
        parts.append("Its output was cut at the output limit.")
    if result.stdout:
        parts.append(result.stdout if not parts else f"stdout:\n{result.stdout}")
    if result.stderr:
        parts.append(f"stderr:\n{result.stderr}")
    return "\n".join(parts) if parts else "(the program printed nothing)"
