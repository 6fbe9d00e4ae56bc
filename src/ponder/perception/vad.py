"""Is anyone speaking? Silero VAD (the ONNX model that faster-whisper ships) over 16 kHz samples.

Every recogniser hallucinates on noise ("You", "Thank you."), so perception asks the voice-activity model
first: audio with less than a quarter of a second of speech is "no speech found", whichever recogniser is
configured.
"""

from __future__ import annotations

import numpy as np

from ponder.errors import PerceptionUnavailableError
from ponder.perception.audio import SAMPLE_RATE

__all__ = ["speech_seconds"]

MIN_SPEECH_MS = 250


def speech_seconds(samples: np.ndarray) -> float:
    """Seconds of speech that Silero VAD finds in ``samples`` (16 kHz mono float32)."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError:
        raise PerceptionUnavailableError(
            'Voice activity detection needs the voice extra (faster-whisper): pip install "ponder[voice]"'
        ) from None
    spans = get_speech_timestamps(
        samples.astype(np.float32, copy=False), VadOptions(min_speech_duration_ms=MIN_SPEECH_MS)
    )
    return float(sum(span["end"] - span["start"] for span in spans)) / SAMPLE_RATE
