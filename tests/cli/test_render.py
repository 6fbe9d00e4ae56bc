"""What the CLI prints from data (answers, reasoning, tool traces, errors) is text: markup shows as it is,
and terminal control sequences (clipboard writes, titles, hidden text) never reach the terminal."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.cli.render import print_error, print_proposal, print_tool_event
from ponder.config import Settings
from ponder.messages import ToolCallEvent, ToolCallPart, ToolResultEvent, ToolResultPart
from ponder.models.base import Model
from ponder.testing import ScriptedModel

OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # write "pwned" to the clipboard
TITLE = "\x1b]0;owned\x07"  # retitle the window
ECHO_TOOLS = '''
from ponder.tools import tool

@tool
def echo(text: str) -> str:
    """Say text back."""
    return "echo: " + text
'''


def _context(model: ScriptedModel) -> CliContext:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        return model

    return CliContext(model_factory=factory)


def _clean(output: str, *, payloads: bool = True) -> None:
    assert "\x1b" not in output and "\x07" not in output
    if payloads:  # went with their sequences
        assert "cHduZWQ" not in output and "owned" not in output


def test_an_answer_with_markup_and_escape_sequences_prints_as_text() -> None:
    # The sequences are split across deltas, as a model streams them.
    deltas = ["Sure. \x1b]52;c;cHd", "uZWQ=\x07[conceal]shown[/] ", "\x1b]0;own", "ed\x07[bold green]done[/]"]
    model = ScriptedModel([deltas])
    result = CliRunner().invoke(cli, ["ask", "--mode", "instant", "hi"], obj=_context(model))
    assert result.exit_code == 0, result.output
    assert result.stdout == "Sure. [conceal]shown[/] [bold green]done[/]\n"
    _clean(result.output)


def test_reasoning_shown_on_the_terminal_is_cleaned_too() -> None:
    model = ScriptedModel([["First, ", f"think{OSC52}[conceal]."], "Answer."])
    args = ["ask", "--mode", "thinking", "--show-thinking", "q"]
    result = CliRunner().invoke(cli, args, obj=_context(model))
    assert result.exit_code == 0, result.output
    assert "think[conceal]." in result.stderr
    _clean(result.output)


@pytest.fixture
def echo_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "echo_tools_for_render_test.py").write_text(textwrap.dedent(ECHO_TOOLS))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "echo_tools_for_render_test"
    sys.modules.pop("echo_tools_for_render_test", None)


def test_a_tool_trace_prints_the_result_as_text(echo_tools: str) -> None:
    text = f"[conceal]secret[/]{OSC52}{TITLE}[bold red]ok[/]"
    model = ScriptedModel([ToolCallPart("c1", "echo", {"text": text}), "Done."])
    result = CliRunner().invoke(cli, ["ask", "--tools", echo_tools, "q"], obj=_context(model))
    assert result.exit_code == 0, result.output
    assert "<- echo result: echo: [conceal]secret[/][bold red]ok[/]" in result.stderr
    _clean(result.output, payloads=False)  # the call's arguments show as JSON: "\\u001b]52;c;..."


def test_render_functions_print_data_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    print_tool_event(ToolCallEvent(ToolCallPart("c", "[conceal]x[/]", {})))
    print_tool_event(ToolResultEvent(ToolResultPart("c", "t", f"[bold]b[/]{OSC52}")))
    print_error(f"no store [/] named {TITLE}[conceal]x")
    print_proposal("Cancel order #1. 25.00 EUR goes back to visa.", f"[conceal]{OSC52}[bold green]Nothing[/]")
    err = capsys.readouterr().err
    _clean(err)
    lines = err.splitlines()
    assert "  -> [conceal]x[/]({})" in lines
    assert "  <- t result: [bold]b[/]" in lines
    assert "error: no store [/] named [conceal]x" in lines
    assert "Confirm? Cancel order #1. 25.00 EUR goes back to visa." in lines
    assert "  The assistant's words (not checked): “[conceal][bold green]Nothing[/]”" in lines
