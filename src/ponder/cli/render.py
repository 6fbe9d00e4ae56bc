"""Terminal output: errors, the weight-assembly progress bar, streamed answers and usage lines.

Everything printed here that comes from data (a model's answer or reasoning, a tool's call or result, a
memory, an error that quotes a name) is printed as text, never as Rich markup, and without terminal
control sequences (sanitize.py).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from ponder.memory.memories import Change
from ponder.messages import AgentEvent, PerceptionEvent, ToolCallEvent, ToolResultEvent
from ponder.turn import TurnResult

from .sanitize import json_text, plain

__all__ = [
    "AssemblyProgress",
    "err_console",
    "print_agent",
    "print_error",
    "print_learned",
    "print_perception",
    "print_proposal",
    "print_stopped",
    "print_tool_event",
    "usage_line",
    "write_json",
    "write_stdout",
]

err_console = Console(stderr=True, highlight=False, emoji=False)


def as_markup(text: str) -> str:
    """Data (a store's, a server's, a model's words) for a place where Rich reads markup, such as a status
    line or a table cell: shown as it is, with no markup and no control sequences."""
    return escape(plain(text))


def print_error(message: str) -> None:
    err_console.print(Text.assemble(("error:", "bold red"), " ", plain(message)), soft_wrap=True)


def print_agent(event: AgentEvent) -> None:
    """One line per sub-agent milestone (progress ticks are left out: they would flood the terminal)."""
    if event.status == "progress":
        return
    what = {
        "started": f"started: {event.detail}",
        "finished": f"finished, {event.tokens} tokens, answer: {event.answer or '(none)'}",
        "halted": f"halted after {event.tokens} tokens: the others already agree",
        "failed": f"failed: {event.detail}",
    }[event.status]
    err_console.print(Text(plain(f"  agent {event.agent + 1} {what}"), style="dim"))


def print_tool_event(event: ToolCallEvent | ToolResultEvent, limit: int = 400) -> None:
    """A tool call as it is made, and its result as it comes back (cut to ``limit`` characters)."""
    who = f"agent {event.agent + 1} " if event.agent is not None else ""
    if isinstance(event, ToolCallEvent):
        arguments = json.dumps(event.call.arguments, ensure_ascii=False)
        line, style = f"  {who}-> {event.call.name}({_cut(arguments, limit)})", "cyan"
    else:
        mark = "error" if event.result.is_error else "result"
        line, style = f"  {who}<- {event.result.name} {mark}: {_cut(event.result.content, limit)}", "dim"
    err_console.print(Text(plain(line), style=style), soft_wrap=True)


def print_perception(event: PerceptionEvent) -> None:
    """What perception made of an image or audio part, and which path ran, before the answer."""
    r = event.report
    if r["kind"] == "audio":
        line = f"  [{r['label']}: {r['engine']}, {r['duration_s']:.1f} s] heard: {r['transcript']}"
    elif r["path"] == "native":
        line = f"  [{r['label']}: sent to the vision model as it is]"
    else:
        line = (
            f"  [{r['label']}: OCR + image analysis ({r['engine']}), {r['lines']} text "
            f"line{'' if r['lines'] == 1 else 's'}; "
            "the picture itself was not seen]"
        )
    err_console.print(Text(plain(line), style="dim"), soft_wrap=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def print_proposal(summary: str, assistant_note: str = "") -> None:
    """A proposed action put to the person: its summary (the store's records; an address the model wrote
    on a labelled line of its own), then, apart and labelled, what the assistant said about it. Both are
    printed as text: markup or escape sequences in them show as they are (or are dropped), never styling
    or hiding another line."""
    err_console.print()
    err_console.print(Text.assemble(("Confirm? ", "bold"), plain(summary)), soft_wrap=True)
    if assistant_note:
        err_console.print(
            Text.assemble(("  The assistant's words (not checked): ", "dim"), f"“{plain(assistant_note)}”"),
            soft_wrap=True,
        )


def print_stopped() -> None:
    """Say that an answer was cut short by Ctrl-C."""
    err_console.print("\n[stopped]", style="yellow", markup=False)


class AssemblyProgress:
    """A progress bar for assembling and verifying model weights; callable from any thread."""

    def __init__(self, label: str = "Preparing model weights") -> None:
        self._label = label
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            if self._progress is None:
                self._progress = Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    TimeRemainingColumn(),
                    console=err_console,
                    transient=False,
                )
                self._progress.start()
                self._task = self._progress.add_task(self._label, total=total)
            assert self._task is not None
            self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None


def usage_line(result: TurnResult) -> str:
    u = result.usage
    mode = result.mode
    if "router" in result.details:
        mode = f"auto → {result.details['router']['mode']}"
    tokens = f"{u.prompt_tokens} prompt + {u.answer_tokens} answer tokens"
    if u.reasoning_tokens:
        tokens += f" + {u.reasoning_tokens} reasoning"
    parts = [result.model, mode, tokens]
    if u.time_to_first_token_s is not None:
        parts.append(f"first token {u.time_to_first_token_s:.2f}s")
    if u.tokens_per_second is not None:
        parts.append(f"{u.tokens_per_second:.1f} tok/s")
    if result.finish_reason != "stop":
        parts.append(f"finish: {result.finish_reason}")
    return " · ".join(parts)


def write_stdout(text: str) -> None:
    """Data on stdout, without terminal control sequences (a streamed answer is filtered as it comes:
    TerminalSession)."""
    sys.stdout.write(plain(text))
    sys.stdout.flush()


def write_json(data: object) -> None:
    """``data`` as indented JSON on stdout: exact, and with no character that drives a terminal."""
    sys.stdout.write(json_text(data) + "\n")
    sys.stdout.flush()


def print_learned(changes: Sequence[Change]) -> None:
    """What the turn taught Ponder about the user, one dim line each (``ponder memory`` manages them)."""
    for change in changes:
        if change.action == "merged":
            continue
        what = {"added": "remembered", "replaced": "updated", "pending": "to confirm"}[change.action]
        line = f"{what} [{change.memory.id}]: {change.memory.text}"
        if change.replaced is not None:
            line += f" (was: {change.replaced.text})"
        err_console.print(Text(plain(line), style="dim"))
