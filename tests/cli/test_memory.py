"""ponder chat/ask with sessions and memory, and the commands that manage them (scripted model)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.config import Settings
from ponder.models.base import Model
from ponder.testing import HashingEmbedder, ScriptedModel

FACT = '{"topic": "diet", "slot": "diet", "fact": "The user is vegetarian."}]'


def context(model: ScriptedModel) -> CliContext:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        return model

    return CliContext(model_factory=factory, embedder=HashingEmbedder())


def run(model: ScriptedModel, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input, obj=context(model))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def learning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_MEMORY__EXTRACT", "true")
    monkeypatch.setenv("PONDER_MEMORY__RECALL_MIN_SCORE", "0.1")  # the hashing embedder's scale


def test_chat_resumes_a_session(learning: None) -> None:
    model = ScriptedModel(["Hi Ann.", "[]"])
    out = run(model, "chat", "--session", "s1", input="I am Ann, hello\n/exit\n")
    assert "session s1 (new)" in out
    model = ScriptedModel(["You are Ann."])
    out = run(model, "chat", "--session", "s1", input="who am I?\n/exit\n")
    assert "session s1 (resumed, 1 turns)" in out
    assert [m.text for m in model.calls[0].messages][-3:] == ["I am Ann, hello", "Hi Ann.", "who am I?"]
    shown = run(ScriptedModel(), "sessions", "show", "s1")
    assert shown.splitlines() == [
        "user> I am Ann, hello",
        "assistant> Hi Ann.",
        "user> who am I?",
        "assistant> You are Ann.",
    ]


def test_facts_are_learned_and_recalled_in_a_later_session(learning: None) -> None:
    model = ScriptedModel(["Noted.", FACT])
    out = run(model, "ask", "--user", "ann", "I am vegetarian.")
    assert "remembered [1]: The user is vegetarian." in out
    model = ScriptedModel(["Try a lentil curry."])
    data = json.loads(run(model, "ask", "--json", "--user", "ann", "Suggest a vegetarian dinner."))
    assert [r["text"] for r in data["memory"]["recalled"]] == ["The user is vegetarian."]
    assert "The user is vegetarian." in "\n".join(m.text for m in model.calls[0].messages)
    model = ScriptedModel(["Pasta."])  # another user: nothing recalled
    data = json.loads(run(model, "ask", "--json", "--user", "bob", "Suggest a vegetarian dinner."))
    assert data["memory"]["recalled"] == []


def test_no_memory_neither_recalls_nor_learns(learning: None) -> None:
    run(ScriptedModel(), "memory", "add", "The user is vegetarian.", "--topic", "diet")
    model = ScriptedModel(["ok"])  # no extraction call is scripted: none may happen
    data = json.loads(run(model, "ask", "--json", "--no-memory", "I am vegetarian, suggest a dinner."))
    assert data["memory"]["recalled"] == [] and data["memory"]["learned"] == []
    model.assert_all_used()


def test_memory_commands_and_forget_me() -> None:
    assert "added 1" in run(ScriptedModel(), "memory", "add", "Budget is 100 euros.", "--topic", "budget")
    out = run(ScriptedModel(), "memory", "add", "Budget is 300 euros.", "--topic", "budget")
    assert "replaced 2" in out and "replaces 1" in out
    listed = run(ScriptedModel(), "memory", "list", "--all")
    assert "Budget is 100 euros. [superseded]" in listed and "Budget is 300 euros." in listed
    exported = json.loads(run(ScriptedModel(), "memory", "export"))
    assert [m["status"] for m in exported["memories"]] == ["superseded", "active"]
    run(ScriptedModel(["hi"]), "ask", "hello")
    assert len(json.loads(run(ScriptedModel(), "sessions", "list", "--json"))) == 1
    out = run(ScriptedModel(), "forget-me", "--yes")
    assert "2 memories" in out and "1 sessions" in out
    assert "Nothing is remembered" in run(ScriptedModel(), "memory", "list")
    assert "no sessions" in run(ScriptedModel(), "sessions", "list")


def test_errors_are_clear() -> None:
    result = CliRunner().invoke(cli, ["memory", "forget", "42"], obj=context(ScriptedModel()))
    assert result.exit_code == 2 and "No memory 42 for user 'me'" in result.output
    result = CliRunner().invoke(cli, ["sessions", "show", "nope"], obj=context(ScriptedModel()))
    assert result.exit_code == 2 and "No session 'nope'" in result.output
    result = CliRunner().invoke(cli, ["ask", "--user", "bad name", "hi"], obj=context(ScriptedModel()))
    assert result.exit_code == 2 and "user name" in result.output
    result = CliRunner().invoke(cli, ["forget-me"], input="n\n", obj=context(ScriptedModel()))
    assert result.exit_code == 2 and "Nothing was deleted" in result.output
