"""``ponder live`` through click's runner: speech made with espeak-ng streamed to Ponder's app started
in-process (the scripted model answers, real perception hears and reads), a camera frame read with the turn,
and the refusals a session can meet (nothing listening, a wrong key, no microphone)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from click.testing import CliRunner

from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.config import ServerConfig, Settings
from ponder.models.base import Model
from ponder.perception.microphone import to_wav
from ponder.server import create_app
from ponder.testing import ScriptedModel
from ponder.testing.media import render_lines, to_format


def _context(model: ScriptedModel, perception: Any) -> CliContext:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        return model

    return CliContext(model_factory=factory, perception=perception)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_live_hears_a_spoken_question_and_streams_the_answer(
    tmp_path: Path, perception: Any, speak: Any
) -> None:
    speech = tmp_path / "speech.wav"
    speech.write_bytes(speak("What is the weather like in Porto?"))
    model = ScriptedModel([["It is sunny ", "in Porto."]])
    result = CliRunner().invoke(
        cli, ["live", "--input", str(speech), "--fast"], obj=_context(model, perception)
    )
    assert result.exit_code == 0, result.output
    assert "heard:" in result.stderr and "porto" in result.stderr.lower(), result.stderr
    assert result.stdout.strip() == "It is sunny in Porto."
    [call] = model.calls
    assert "porto" in call.messages[-1].text.lower()  # the server's turn: what was heard


def test_live_answers_a_question_heard_while_an_answer_streamed(
    tmp_path: Path, perception: Any, speak: Any
) -> None:
    """Sent fast, the second question is heard while the first answer streams (the server leaves it for the
    next turn): the client asks for its answer once the first is done."""
    from ponder.perception.audio import decode_audio

    first, second = (decode_audio(speak(q)).samples for q in ("What is the capital of France?", "Thank you."))
    speech = tmp_path / "two.wav"
    speech.write_bytes(to_wav(np.concatenate([first, np.zeros(16_000, np.float32), second])))
    model = ScriptedModel([["Paris "] * 8, ["You are welcome."]], delay_s=0.25)  # 2 s of answer
    result = CliRunner().invoke(
        cli, ["live", "--input", str(speech), "--fast"], obj=_context(model, perception)
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.count("heard:") == 2, result.stderr
    assert result.stdout.splitlines()[-1] == "You are welcome."
    assert len(model.calls) == 2 and "thank" in model.calls[1].messages[-1].text.lower()


def test_live_sends_a_camera_frame_with_the_turn(tmp_path: Path, perception: Any, speak: Any) -> None:
    speech = tmp_path / "speech.wav"
    speech.write_bytes(speak("What does this sign say?"))
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.png").write_bytes(to_format(render_lines(["MAPLE STREET"], size=48)))
    (frames / "notes.txt").write_text("not a frame")
    model = ScriptedModel(["Maple Street."])
    args = ["live", "--input", str(speech), "--frames", str(frames), "--fast"]
    result = CliRunner().invoke(cli, args, obj=_context(model, perception))
    assert result.exit_code == 0, result.output
    [call] = model.calls
    assert "MAPLE STREET" in " ".join(m.text for m in call.messages).upper()  # read from the frame
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = CliRunner().invoke(cli, [*args[:3], "--frames", str(empty)], obj=_context(model, perception))
    assert refused.exit_code == 2 and "no PNG or JPEG frames" in refused.stderr


def test_live_with_nothing_listening_exits_with_a_clear_message(tmp_path: Path) -> None:
    silence = tmp_path / "silence.wav"
    silence.write_bytes(to_wav(np.zeros(8000, np.int16)))
    url = f"http://127.0.0.1:{_free_port()}"
    result = CliRunner().invoke(cli, ["live", "--input", str(silence), "--url", url, "--fast"])
    assert result.exit_code == 3, result.output
    assert f"Cannot reach ws://127.0.0.1:{url.rsplit(':', 1)[1]}/v1/realtime" in result.stderr
    assert "Traceback" not in result.output
    missing = CliRunner().invoke(cli, ["live", "--input", str(tmp_path / "nope.wav")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


@pytest.fixture
def keyed_server(tmp_path: Path) -> Iterator[str]:
    """Ponder's app on a loopback port, requiring keys (none is made)."""
    settings = Settings(
        data_dir=tmp_path / "server", model="scripted:default", programs=False, server=ServerConfig(port=0)
    )
    port = _free_port()
    app = create_app(settings, model_factory=lambda spec, s: ScriptedModel())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the test server did not start"
        thread.join(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_live_refused_says_what_the_server_said(tmp_path: Path, keyed_server: str) -> None:
    silence = tmp_path / "silence.wav"
    silence.write_bytes(to_wav(np.zeros(8000, np.int16)))
    args = ["live", "--input", str(silence), "--url", keyed_server, "--fast"]
    result = CliRunner().invoke(cli, args, env={"PONDER_API_KEY": "pk-not-a-key"})
    assert result.exit_code == 4, result.output
    assert "refused the session (401)" in result.stderr and "Traceback" not in result.output


def test_live_without_a_microphone_says_so() -> None:
    result = CliRunner().invoke(cli, ["live"])
    assert result.exit_code != 0
    assert "microphone" in result.stderr.lower() or "portaudio" in result.stderr.lower()
    assert "Traceback" not in result.output
