"""Recording from the microphone, where one exists: 16 kHz mono, returned as WAV bytes (``record``) or
handed over as PCM16 chunks while it records (``listening``, for a live session).

Uses ``sounddevice`` (PortAudio). A machine without PortAudio or without an input device gets a
``PerceptionUnavailableError`` that says which, never a stack trace.
"""

from __future__ import annotations

import contextlib
import io
import threading
import wave
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ponder.errors import PerceptionUnavailableError
from ponder.perception.audio import SAMPLE_RATE

__all__ = ["input_device", "listening", "record", "to_wav"]


def to_wav(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono WAV bytes from float samples in [-1, 1] (or int16 samples)."""
    if samples.dtype != np.int16:
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()


def _sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as err:  # OSError: the PortAudio library is missing
        raise PerceptionUnavailableError(
            f"Recording needs PortAudio and the voice extra ({err}). On Debian: apt install libportaudio2; "
            'then pip install "ponder[voice]". Or record a file and use ponder ask --audio FILE.'
        ) from None
    return sounddevice


def input_device() -> dict[str, Any]:
    """The default input device, as PortAudio describes it; ``PerceptionUnavailableError`` where PortAudio or
    a microphone is missing."""
    sd = _sounddevice()
    try:
        return dict(sd.query_devices(kind="input"))
    except Exception as err:  # PortAudio's error when there is no default input device
        raise PerceptionUnavailableError(
            f"No microphone found ({err}). Record a file and use ponder ask --audio FILE instead."
        ) from None


def record(max_s: float, stop: threading.Event) -> bytes:
    """Record until ``stop`` is set or ``max_s`` seconds pass; the recording as WAV bytes."""
    sd = _sounddevice()
    device = input_device()
    chunks: list[np.ndarray] = []

    def collect(data: np.ndarray, frames: int, time: Any, status: Any) -> None:
        chunks.append(data.copy().reshape(-1))

    try:
        with sd.InputStream(samplerate=SAMPLE_RATE, channels=1, dtype="int16", callback=collect):
            stop.wait(max_s)
    except Exception as err:
        raise PerceptionUnavailableError(
            f"The microphone {device.get('name', '')!r} cannot record: {err}"
        ) from None
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return to_wav(samples)


@contextlib.contextmanager
def listening(on_chunk: Callable[[bytes], None], chunk_ms: int = 20) -> Iterator[None]:
    """Record while the block runs, handing ``on_chunk`` each ``chunk_ms`` of 16 kHz PCM16 (little-endian
    mono bytes) as it comes, on PortAudio's thread."""
    sd = _sounddevice()
    device = input_device()

    def collect(data: np.ndarray, frames: int, time: Any, status: Any) -> None:
        on_chunk(data.astype("<i2").tobytes())

    try:
        stream = sd.InputStream(
            samplerate=SAMPLE_RATE,
            channels=1,
            dtype="int16",
            blocksize=SAMPLE_RATE * chunk_ms // 1000,
            callback=collect,
        )
        stream.start()
    except Exception as err:
        raise PerceptionUnavailableError(
            f"The microphone {device.get('name', '')!r} cannot record: {err}"
        ) from None
    try:
        yield
    finally:
        stream.stop()
        stream.close()
