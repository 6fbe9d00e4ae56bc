"""ponder ask --image / --audio and ponder listen, with the scripted model and real perception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.config import Settings
from ponder.models.base import Model
from ponder.testing import ScriptedModel
from ponder.testing.media import render_lines, to_format, transcode


def _context(model: ScriptedModel, perception: Any) -> CliContext:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        return model

    return CliContext(model_factory=factory, perception=perception)


def test_ask_about_an_image(tmp_path: Path, perception: Any) -> None:
    image = tmp_path / "receipt.jpg"
    image.write_bytes(
        to_format(render_lines([["Tea", "2.10"], ["TOTAL", "2.10"]], size=30), "JPEG", quality=90)
    )
    model = ScriptedModel(["2.10"])
    args = ["ask", "--json", "--mode", "instant", "What is the total?", "--image", str(image)]
    result = CliRunner().invoke(cli, args, obj=_context(model, perception))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (report,) = data["perception"]
    assert report["path"] == "ocr+analysis" and report["format"] == "JPEG"
    assert "TOTAL" in report["text"]
    prompt = model.calls[0].messages[-1].text
    assert prompt.startswith("What is the total?") and "<visual_context" in prompt


def test_ask_with_audio_shows_what_was_heard(tmp_path: Path, perception: Any, speak: Any) -> None:
    clip = tmp_path / "question.webm"
    clip.write_bytes(transcode(speak("How tall is Mount Everest?"), "webm"))
    model = ScriptedModel(["About 8849 metres."])
    result = CliRunner().invoke(cli, ["ask", "--audio", str(clip)], obj=_context(model, perception))
    assert result.exit_code == 0, result.output
    assert "heard:" in result.stderr and "everest" in result.stderr.lower()
    assert result.stdout.strip() == "About 8849 metres."
    assert "everest" in model.calls[0].messages[-1].text.lower()


def test_broken_media_is_a_clear_error(tmp_path: Path, perception: Any) -> None:
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    result = CliRunner().invoke(
        cli, ["ask", "what?", "--image", str(bad)], obj=_context(ScriptedModel([]), perception)
    )
    assert result.exit_code == 2
    assert "image 1" in result.stderr and "Traceback" not in result.output
    missing = CliRunner().invoke(
        cli, ["ask", "--audio", str(tmp_path / "nope.wav")], obj=_context(ScriptedModel([]), perception)
    )
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_listen_without_a_microphone_says_so(perception: Any) -> None:
    result = CliRunner().invoke(
        cli, ["listen", "--seconds", "1"], obj=_context(ScriptedModel([]), perception), input="\n"
    )
    assert result.exit_code != 0
    assert "microphone" in result.stderr.lower() or "portaudio" in result.stderr.lower()
    assert "Traceback" not in result.output


def test_chat_sends_images_and_survives_a_missing_file(tmp_path: Path, perception: Any) -> None:
    image = tmp_path / "note.png"
    image.write_bytes(to_format(render_lines(["Buy milk"], size=32), "PNG"))
    model = ScriptedModel(["It says buy milk.", "Milk."])
    lines = f"/image {tmp_path / 'none.png'}\n/image {image} what does it say?\nand again?\n/exit\n"
    result = CliRunner().invoke(
        cli, ["chat", "--mode", "instant"], input=lines, obj=_context(model, perception)
    )
    assert result.exit_code == 0, result.output
    assert "No file at" in result.stderr  # the chat goes on
    assert "1 text line;" in result.stderr
    first, second = model.calls
    assert first.messages[-1].text.startswith("what does it say?") and "Buy milk" in first.messages[-1].text
    assert "Buy milk" in second.messages[-3].text  # the image stays in the history, read from the cache
    model.assert_all_used()
