"""The CLI driven through click's runner with an injected ScriptedModel (no real model)."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.config import Settings
from ponder.errors import BackendError, ContextLengthError
from ponder.models.base import Model
from ponder.testing import ScriptedModel


def _context(model: ScriptedModel, seen: list[Settings] | None = None) -> CliContext:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        if seen is not None:
            seen.append(settings)
        return model

    return CliContext(model_factory=factory)


def test_ask_streams_the_answer() -> None:
    model = ScriptedModel([["The sky ", "scatters blue."]])
    result = CliRunner().invoke(cli, ["ask", "--mode", "instant", "Why", "blue?"], obj=_context(model))
    assert result.exit_code == 0, result.output
    assert result.stdout == "The sky scatters blue.\n"
    assert model.calls[0].messages[-1].text == "Why blue?"


def test_ask_json_reports_answer_and_usage() -> None:
    result = CliRunner().invoke(cli, ["ask", "--json", "q"], obj=_context(ScriptedModel(["answer"])))
    data = json.loads(result.stdout)
    assert data["answer"] == "answer" and data["mode"] == "auto" and data["model"] == "scripted"
    assert data["router"]["mode"] == "instant" and data["router"]["reason"]  # auto is the default
    assert set(data["usage"]) >= {
        "prompt_tokens",
        "answer_tokens",
        "time_to_first_token_s",
        "tokens_per_second",
    }


def test_flags_reach_settings_and_request() -> None:
    seen: list[Settings] = []
    model = ScriptedModel(["x"])
    args = ["ask", "--max-tokens", "9", "--temperature", "0", "--seed", "3", "--stop", "END", "-m", "m", "q"]
    result = CliRunner().invoke(cli, args, obj=_context(model, seen))
    assert result.exit_code == 0, result.output
    assert seen[0].model == "m"
    request = model.calls[0].settings
    assert (request.max_tokens, request.temperature, request.seed, request.stop) == (9, 0.0, 3, ("END",))


def test_ask_reads_stdin_with_dash() -> None:
    model = ScriptedModel(["x"])
    CliRunner().invoke(cli, ["ask", "-"], input="from stdin\n", obj=_context(model))
    assert model.calls[0].messages[-1].text == "from stdin"


def test_empty_question_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["ask"], obj=_context(ScriptedModel()))
    assert result.exit_code == 2 and "Give a question" in result.output


def test_ponder_errors_print_a_message_and_exit_with_their_code() -> None:
    error = ContextLengthError("too long for context", prompt_tokens=9, max_tokens=1, context_length=8)
    result = CliRunner().invoke(cli, ["ask", "q"], obj=_context(ScriptedModel([error])))
    assert result.exit_code == 2
    assert "error: too long for context" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_model_names_the_known_ones() -> None:
    result = CliRunner().invoke(cli, ["ask", "-m", "nonsense", "q"])
    assert result.exit_code == 2
    assert "Unknown model 'nonsense'" in result.stderr and "embedded:qwen2.5-coder-0.5b" in result.stderr


def test_bugs_are_reported_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["ask", "q"], obj=_context(ScriptedModel([ZeroDivisionError("x")])))
    assert result.exit_code == 1 and "internal error: ZeroDivisionError" in result.stderr


def test_chat_keeps_history_and_survives_a_failed_turn() -> None:
    model = ScriptedModel(["Hi Ann.", BackendError("server said no"), "Your name is Ann."])
    lines = "I am Ann\nfails\n/help\nwho am I?\n/exit\n"
    result = CliRunner().invoke(cli, ["chat"], input=lines, obj=_context(model))
    assert result.exit_code == 0, result.output
    assert "server said no" in result.stderr
    assert "Your name is Ann." in result.stdout
    last = [m.text for m in model.calls[-1].messages if m.role != "system"]
    assert last == ["I am Ann", "Hi Ann.", "who am I?"]  # the failed turn left no trace
    model.assert_all_used()


def test_chat_reset_forgets() -> None:
    model = ScriptedModel(["a", "b"])
    CliRunner().invoke(cli, ["chat"], input="one\n/reset\ntwo\n", obj=_context(model))
    assert [m.text for m in model.calls[-1].messages if m.role != "system"] == ["two"]


def test_models_lists_embedded_models_as_json() -> None:
    result = CliRunner().invoke(cli, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["model"] for r in rows} >= {"embedded:qwen2.5-coder-1.5b", "embedded:smollm2-135m"}
    assert all(isinstance(r["ready"], bool) for r in rows)


def test_mode_flags_reach_the_mode() -> None:
    seen: list[Settings] = []
    args = ["ask", "--mode", "contemplating", "--agents", "3", "--budget", "40", "--effort", "high", "q"]
    model = ScriptedModel(["Answer: 1", "Answer: 1", "Answer: 1"])
    result = CliRunner().invoke(cli, args, obj=_context(model, seen))
    assert result.exit_code == 0, result.output
    assert (seen[0].mode, seen[0].agents, seen[0].budget, seen[0].reasoning_effort) == (
        "contemplating",
        3,
        40,
        "high",
    )
    assert [c.settings.max_tokens for c in model.calls] == [40, 40, 40]


def test_contemplating_starts_program_agents_unless_told_not_to() -> None:
    model = ScriptedModel(["print(3 * 24)", "Answer: 72", "print(3 * 24)", "Answer: 72"])
    base = ["ask", "--json", "--mode", "contemplating", "--agents", "2"]
    with_programs = CliRunner().invoke(cli, [*base, "q"], obj=_context(model))
    without = CliRunner().invoke(cli, [*base, "--no-programs", "q"], obj=_context(model))
    assert with_programs.exit_code == 0 and without.exit_code == 0, with_programs.output + without.output
    kinds = [a["kind"] for a in json.loads(with_programs.stdout)["agents"]]
    assert kinds == ["program", "think"]
    assert json.loads(with_programs.stdout)["vote"]["counts"] == {"72": 2}  # the program ran in the jail
    assert [a["kind"] for a in json.loads(without.stdout)["agents"]] == ["think", "think"]
