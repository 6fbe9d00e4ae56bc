"""Program agents for Contemplating: an attempt that writes a program, and the sandbox runs it.

A program agent reasons by writing Python: its reply opens the reasoning with a line saying so and a code
fence, the model writes the program, and the fence's end stops it. The program then runs in the sandbox
(ponder.sandbox: a jail, never Ponder's own process); what it prints last is the agent's answer, which
votes like any other. Computing instead of reasoning in words is a different line of attack, so its
mistakes are not the mistakes of the Thinking agents, and agreement between the two is strong evidence.

A program that fails, prints nothing or runs out of time gives no answer (its agent does not vote).
"""

from __future__ import annotations

from typing import Protocol

from ponder.modes.answers import normalise
from ponder.prompts import load_prompt

__all__ = ["FENCE_END", "PROGRAM_TIMEOUT_S", "ProgramSandbox", "program_opening", "run_program"]

FENCE_END = "```"
PROGRAM_TIMEOUT_S = 5.0


class _Run(Protocol):
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def exit_code(self) -> int: ...
    @property
    def timed_out(self) -> bool: ...


class ProgramSandbox(Protocol):
    """What program agents need of ponder.sandbox.Sandbox."""

    async def run(self, code: str, stdin: str = "", timeout_s: float | None = None) -> _Run: ...


def program_opening() -> str:
    """The text a program agent's reasoning starts with, ending in an open code fence."""
    return f"{load_prompt('contemplating_program').strip()}\n```python\n"


async def run_program(sandbox: ProgramSandbox, code: str) -> tuple[str | None, str]:
    """Run an agent's program; (its answer or None, the text that shows what happened)."""
    result = await sandbox.run(code, timeout_s=PROGRAM_TIMEOUT_S)
    lines = [line for line in result.stdout.strip().splitlines() if line.strip()]
    answer = normalise(lines[-1]) if lines and result.exit_code == 0 and not result.timed_out else None
    shown = f"```python\n{code.strip()}\n```\n"
    if result.timed_out:
        shown += f"The program did not finish within {PROGRAM_TIMEOUT_S:g} s.\n"
    elif result.exit_code != 0:
        shown += f"The program failed (exit code {result.exit_code}):\n{result.stderr.strip()[-600:]}\n"
    else:
        shown += f"Output:\n{result.stdout.strip()[-600:]}\n"
    if answer is not None:
        shown += f"\nAnswer: {answer}"
    return answer, shown
