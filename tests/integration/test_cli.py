"""``ponder`` as a user runs it: a real process, the real embedded fixture model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

MODEL = "embedded:smollm2-135m"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    env.update(XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"), PYTHONUNBUFFERED="1")
    return env


def _ponder(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ponder", *args],
        capture_output=True,
        text=True,
        env=_env(home),
        timeout=timeout,
    )


def test_ask_json_on_the_embedded_model(tmp_path: Path) -> None:
    done = _ponder(tmp_path, "ask", "--json", "-m", MODEL, "--max-tokens", "16", "What is 2+2?")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["answer"] and data["model"] == MODEL and data["mode"] == "auto"
    assert data["router"]["mode"] == "instant"  # the default router sends a short question to instant
    usage = data["usage"]
    assert usage["prompt_tokens"] > 0 and 0 < usage["answer_tokens"] <= 16
    assert usage["time_to_first_token_s"] > 0
    # The weights were verified on first use, and the stamp makes the next run skip it.
    assert list((tmp_path / "data" / "ponder" / "models").glob("*.verified.json"))


def test_ask_streams_plain_text(tmp_path: Path) -> None:
    done = _ponder(tmp_path, "ask", "-m", MODEL, "--max-tokens", "12", "--stats", "Say hello.")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "tok/s" in done.stderr


# Tokens the answer may still show after Ctrl-C: those the engine had queued or was decoding when the signal
# came (the engine stops between tokens), counted, not timed. bench/stop_latency.py measures the time.
MAX_TOKENS_AFTER_CTRL_C = 16


def _read_some(fd: int, at_least: int) -> bytes:
    data = b""
    while len(data) < at_least:
        chunk = os.read(fd, 4096)
        assert chunk, "the answer ended before Ctrl-C was sent"
        data += chunk
    return data


def _drain(fd: int) -> bytes:
    """What the pipe holds now, without waiting for more."""
    os.set_blocking(fd, False)
    data = b""
    try:
        while chunk := os.read(fd, 65536):
            data += chunk
    except BlockingIOError:
        pass
    finally:
        os.set_blocking(fd, True)
    return data


def _tokens(home: Path, text: str) -> int:
    """How many tokens of the fixture model ``text`` is (its tokenizer only: no weights are loaded)."""
    import llama_cpp

    from ponder.models.embedded.catalog import find_embedded
    from ponder.models.embedded.weights import ensure_weights

    spec = find_embedded(MODEL.split(":", 1)[1])
    assert spec is not None
    path = ensure_weights(spec, home / "data" / "ponder" / "models")  # assembled by the run already
    vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    return len(vocab.tokenize(text.encode(), add_bos=False, special=False)) if text else 0


def test_ctrl_c_stops_decoding_at_once(tmp_path: Path) -> None:
    """Ctrl-C in the middle of a long answer: the process stops with 130 and "[stopped]", and at most a few
    tokens come after the signal. The process is frozen (SIGSTOP) while what it printed so far is read off
    the pipe, so every byte read after SIGINT was printed after SIGINT, however loaded the machine is."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ponder", "ask", "-m", MODEL, "--max-tokens", "3000", "Write a long story."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(tmp_path),
        # A suite started as a background job (`cmd &`) runs with SIGINT ignored, which a child inherits:
        # the CLI under test gets Ctrl-C as a person's terminal would give it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    try:
        out = proc.stdout.fileno()
        _read_some(out, 40)  # the answer is streaming
        proc.send_signal(signal.SIGSTOP)
        _drain(out)  # everything printed before Ctrl-C
        proc.send_signal(signal.SIGINT)  # pending until the process runs again
        proc.send_signal(signal.SIGCONT)
        after, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err.decode(errors="replace")
    assert b"[stopped]" in err and b"Traceback" not in err
    after_ctrl_c = _tokens(tmp_path, after.decode(errors="replace").rstrip("\n"))
    assert after_ctrl_c <= MAX_TOKENS_AFTER_CTRL_C, f"{after_ctrl_c} tokens came after Ctrl-C: {after!r}"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["-m", "embedded:nope"], 2, "Unknown model"),
        (["-m", "openai:http://127.0.0.1:9/v1#m"], 3, "Cannot reach"),
        (["-m", "openai:http://127.0.0.1:9/v1"], 2, "names no model"),
        (["-m", MODEL, "--context-length", "256", "word " * 400], 2, "context"),
    ],
)
def test_bad_input_gets_a_clear_message_and_a_nonzero_exit(
    tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    question = [] if len(args) > 2 else ["hello"]
    done = _ponder(tmp_path, "ask", *args, *question)
    assert done.returncode == code, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr


def test_chat_keeps_a_conversation(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ponder", "chat", "-m", MODEL, "--max-tokens", "12"],
        input="My name is Ada.\nWhat is my name?\n",
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("you>") == 3  # two turns answered, then end of input at the third prompt


def test_models_lists_the_fixture_as_ready(tmp_path: Path) -> None:
    done = _ponder(tmp_path, "models", "--json")
    rows = {r["model"]: r for r in json.loads(done.stdout)}
    assert rows[MODEL]["ready"] is True


def test_answers_with_no_network_at_all(tmp_path: Path) -> None:
    """The embedded path needs no network: run it in a network namespace that has none (root only)."""
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace here (needs root and unshare)")
    command = [sys.executable, "-m", "ponder", "ask", "--json", "-m", MODEL, "--max-tokens", "8", "Hi"]
    done = subprocess.run(
        ["unshare", "-n", *command], capture_output=True, text=True, env=_env(tmp_path), timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["usage"]["answer_tokens"] > 0


def test_ask_about_an_image_on_the_embedded_model(tmp_path: Path) -> None:
    from ponder.testing.media import render_lines, to_format

    image = tmp_path / "sign.png"
    image.write_bytes(to_format(render_lines(["HARBOUR ROAD", "Open 9 to 5"], size=36), "PNG"))
    args = ["ask", "--json", "-m", MODEL, "--mode", "instant", "--max-tokens", "24", "Which road?"]
    done = _ponder(tmp_path, *args, "--image", str(image))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    (report,) = data["perception"]
    assert report["path"] == "ocr+analysis" and report["text"] == ["HARBOUR ROAD", "Open 9 to 5"]
    assert data["answer"] and data["usage"]["prompt_tokens"] > 100  # the visual context reached the model


def test_ask_with_audio_on_the_embedded_model(tmp_path: Path) -> None:
    from ponder.testing.media import ESPEAK, espeak, transcode

    if ESPEAK is None:
        pytest.skip("espeak-ng is not installed (apt install espeak-ng)")
    clip = tmp_path / "question.mp3"
    clip.write_bytes(transcode(espeak("What is the capital of Italy?"), "mp3"))
    done = _ponder(tmp_path, "ask", "--json", "-m", MODEL, "--max-tokens", "16", "--audio", str(clip))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    (report,) = data["perception"]
    assert report["path"] == "asr" and report["engine"].startswith("moonshine-tiny")
    assert "italy" in report["transcript"].lower()
    assert data["router"]["mode"] == "instant"  # a voice turn
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3" + b"\0" * 64)
    failed = _ponder(tmp_path, "ask", "-m", MODEL, "--audio", str(broken))
    assert failed.returncode == 2 and "audio 1" in failed.stderr and "Traceback" not in failed.stderr
