"""``--tools`` on ask: tools from a module reach the model, calls and results are shown as they happen."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.config import Settings
from ponder.messages import ToolCallPart
from ponder.models.base import Model
from ponder.testing import ScriptedModel

TOOLS_MODULE = '''
from ponder.tools import tool

@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 18 C, light rain"
'''


@pytest.fixture
def tools_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "weather_tools_for_test.py").write_text(textwrap.dedent(TOOLS_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "weather_tools_for_test"
    sys.modules.pop("weather_tools_for_test", None)


def _context(model: ScriptedModel) -> CliContext:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        return model

    return CliContext(model_factory=factory)


def test_a_module_of_tools_is_offered_called_and_shown(tools_module: str) -> None:
    model = ScriptedModel([ToolCallPart("c1", "get_weather", {"city": "Paris"}), "Light rain, 18 C."])
    result = CliRunner().invoke(
        cli, ["ask", "--tools", tools_module, "Weather in Paris?"], obj=_context(model)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "Light rain, 18 C.\n"
    assert '-> get_weather({"city": "Paris"})' in result.stderr
    assert "<- get_weather result: Paris: 18 C, light rain" in result.stderr
    assert [t["function"]["name"] for t in model.calls[0].settings.tools] == ["get_weather"]
    model.assert_all_used()


def test_module_name_form_and_json_report_the_calls(tools_module: str) -> None:
    model = ScriptedModel([ToolCallPart("c1", "get_weather", {"city": "Oslo"}), "Rain."])
    args = ["ask", "--json", "--tools", f"{tools_module}:get_weather", "Weather in Oslo?"]
    result = CliRunner().invoke(cli, args, obj=_context(model))
    assert result.exit_code == 0, result.output
    assert '"result": "Oslo: 18 C, light rain"' in result.stdout


def test_an_unknown_tools_name_is_a_clear_error() -> None:
    result = CliRunner().invoke(
        cli, ["ask", "--tools", "no_such_tools_module", "q"], obj=_context(ScriptedModel())
    )
    assert result.exit_code == 2
    assert "Unknown tools 'no_such_tools_module'" in result.stderr and "python" in result.stderr
