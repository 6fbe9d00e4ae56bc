"""Perception: images and audio in, text out, for models that do not read them natively.

- images.py: decode_image: PNG/JPEG/WebP/GIF from bytes, EXIF orientation, pixel limits, downscaling
- ocr.py: OcrEngine (RapidOCR): text lines with boxes, in reading order
- analysis.py: analyse: size, dominant colours, regions of text and of other content
- visual.py: visual_context: all of that written for a text model, labelled as extracted
- audio.py: decode_audio: WAV/FLAC/OGG/MP3/M4A/WebM via PyAV, to 16 kHz mono
- vad.py: is anyone speaking? Silero VAD, asked before any recogniser
- live_audio.py: LiveAudio: a live stream's PCM16 resampled, speech found as it comes (Silero, per window)
- asr.py: Transcriber, WhisperTranscriber (faster-whisper, Whisper base from PyPI packages)
- moonshine.py: MoonshineTranscriber (Moonshine tiny, the fast English recogniser for voice turns)
- microphone.py: record (sounddevice), to_wav
- perceive.py: Perception: a conversation's media parts to text, with a report of the path each took
"""

from __future__ import annotations

from ponder.perception.asr import Transcriber, Transcript, WhisperTranscriber
from ponder.perception.perceive import ASR_MODELS, Perception, has_media

__all__ = ["ASR_MODELS", "Perception", "Transcriber", "Transcript", "WhisperTranscriber", "has_media"]
