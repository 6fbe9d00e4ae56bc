"""Moonshine tiny (English): the fast speech recogniser, for voice turns.

Moonshine's encoder takes audio of any length, so a three-second question costs a fraction of Whisper's
fixed thirty-second window: a real-time factor near 0.08 on two cores against Whisper base's 0.4-0.5 on
short clips, at a higher word error rate (bench/asr.py measures both). The runtime and the model files come
in the ``moonshine-voice`` wheel; the model files are checked against the sha256 values kept here before
the library loads them.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ponder.errors import CorruptWeightsError, NoSpeechError, PerceptionUnavailableError
from ponder.models.embedded.weights import verify_file
from ponder.perception.asr import Segment, Transcript
from ponder.perception.audio import SAMPLE_RATE

__all__ = ["MOONSHINE_FILES", "MoonshineTranscriber"]

MOONSHINE_FILES = {  # tiny-en, in moonshine-voice 0.0.44
    "encoder_model.ort": "94e90a4654fc45cdfedb77c4c08e1739f48862998e58fada384b25118134f221",
    "decoder_model_merged.ort": "cf524c4862d36e9e5ab032eddc73637efd822d70e868ac575cf1a46e1e4708a0",
    "tokenizer.bin": "6884b35fd6377d4c4d32336a0bc152f36b64d1e45b6503683cdc238250a8472d",
}
_INSTALL = 'pip install "ponder[voice]"'  # moonshine-voice==0.0.44


def _model_dir() -> Path:
    spec = importlib.util.find_spec("moonshine_voice")
    if spec is None or spec.origin is None:
        raise PerceptionUnavailableError(f"The fast speech recogniser needs moonshine-voice: {_INSTALL}")
    return Path(spec.origin).parent / "assets" / "tiny-en"


class MoonshineTranscriber:
    """Moonshine tiny-en through the moonshine-voice library; verified and loaded once, on first use."""

    name = "moonshine-tiny (moonshine-voice, English)"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        directory = _model_dir()
        for filename, sha256 in MOONSHINE_FILES.items():
            path = directory / filename
            if not path.is_file():
                raise PerceptionUnavailableError(
                    f"moonshine-voice has no {filename}; reinstall it: {_INSTALL}"
                )
            actual = verify_file(path, sha256)
            if actual != sha256:
                raise CorruptWeightsError(
                    f"The moonshine-tiny file {filename} is corrupt: sha256 {actual[:16]}… is not the "
                    f"expected {sha256[:16]}…. Reinstall it: {_INSTALL} --force-reinstall"
                )
        try:
            import moonshine_voice
            from moonshine_voice.transcriber import Transcriber as Moonshine

            return Moonshine(str(directory), moonshine_voice.ModelArch.TINY)
        except Exception as err:  # the bundled runtime will not load here
            raise PerceptionUnavailableError(
                f"The speech recogniser moonshine-tiny cannot load: {err}"
            ) from None

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                self._model = self._load()

    def transcribe(
        self,
        samples: np.ndarray,
        *,
        language: str | None = None,
        prompt: str | None = None,
        word_timestamps: bool = False,
    ) -> Transcript:
        if language not in (None, "en"):
            raise PerceptionUnavailableError(
                f"moonshine-tiny understands English only, not '{language}': set perception.asr_model to "
                "whisper-base for other languages."
            )
        self.load()
        started = time.perf_counter()
        duration = len(samples) / SAMPLE_RATE
        with self._lock:
            result = self._model.transcribe_without_streaming(
                samples.astype(np.float32).tolist(), SAMPLE_RATE
            )
        segments = tuple(
            Segment(
                start=round(float(line.start_time), 2),
                end=round(float(line.start_time + line.duration), 2),
                text=str(line.text),
            )
            for line in result.lines
            if str(line.text).strip()
        )
        text = " ".join(s.text.strip() for s in segments).strip()
        if not text:
            raise NoSpeechError(f"No speech found in {duration:.1f} s of audio.")
        return Transcript(
            text=text,
            language="en",
            language_probability=1.0,
            duration_s=round(duration, 3),
            model=self.name,
            time_s=round(time.perf_counter() - started, 3),
            segments=segments,
        )
