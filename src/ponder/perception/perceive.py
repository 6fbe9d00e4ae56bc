"""Perception: turning a turn's images and audio into what the model can take, and saying how it was done.

``Perception.perceive(messages, native_images=...)`` returns the conversation with each audio part
replaced by its transcript and, unless the model reads images itself, each image part replaced by its
visual context (OCR with positions and image analysis), plus one report per part that names the path that
ran: ``native`` (the image went to a vision model as it is), ``ocr+analysis``, or ``asr`` with the
recogniser's name. The replacement parts are ``TextPart``s tagged with their origin, so the router still
knows a voice turn from a typed one.

The work is CPU-bound, so it runs in a worker thread; results are cached by the bytes' sha256 within a
scope (the server's account), so a client that resends a whole conversation does not pay twice for the same
image or clip, and no account learns from a cache hit what another account sent (cache.py: in this process,
or in the server's database, shared by its replicas).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ponder.config import PerceptionConfig
from ponder.errors import MediaError, NoSpeechError, PerceptionUnavailableError
from ponder.messages import AudioPart, ImagePart, Message, Part, TextPart
from ponder.perception.analysis import analyse
from ponder.perception.asr import Transcriber, Transcript, WhisperTranscriber
from ponder.perception.audio import decode_audio
from ponder.perception.cache import MemoryCache, PerceptionCache
from ponder.perception.images import decode_image
from ponder.perception.ocr import OcrEngine
from ponder.perception.vad import speech_seconds
from ponder.perception.visual import PATH_OCR, visual_context

__all__ = ["ASR_MODELS", "Perception", "has_media"]

ASR_MODELS = ("moonshine-tiny", "whisper-base")

_CACHE_SIZE = 64


def has_media(messages: Sequence[Message]) -> bool:
    return any(isinstance(p, ImagePart | AudioPart) for m in messages for p in m.parts)


class Perception:
    """Images and audio in, text out; shared by every turn of a process (the engines load once)."""

    def __init__(
        self,
        config: PerceptionConfig,
        models_dir: Path,
        *,
        ocr: OcrEngine | None = None,
        transcribers: dict[str, Transcriber] | None = None,
        cache: PerceptionCache | None = None,
    ) -> None:
        self.config = config
        self.models_dir = models_dir
        self.ocr = ocr or OcrEngine()
        self._transcribers: dict[str, Transcriber] = dict(transcribers or {})
        self.cache: PerceptionCache = cache or MemoryCache(_CACHE_SIZE)

    # --- single parts (also used by the CLI and /v1/audio/transcriptions) --------------------------------

    def read_image(self, data: bytes, label: str = "image 1") -> tuple[str, dict[str, Any]]:
        """(visual context, report) for one image."""
        started = time.perf_counter()
        c = self.config
        decoded = decode_image(
            data,
            max_bytes=c.max_image_bytes,
            max_pixels=c.max_image_pixels,
            max_side=c.max_image_side,
            name=label,
        )
        lines = self.ocr.read(decoded.image, scale=decoded.scale)
        analysis = analyse(decoded.image, lines, decoded.original_size)
        text = visual_context(label, decoded.format, analysis, lines, self.ocr.name, frames=decoded.frames)
        report = {
            "kind": "image",
            "label": label,
            "path": PATH_OCR,
            "engine": self.ocr.name,
            "note": "text and layout extracted by OCR and image analysis; the picture itself was not seen",
            "format": decoded.format,
            "size": list(decoded.original_size),
            "downscaled": decoded.downscaled,
            "lines": len(lines),
            "text": [line.text for line in lines],
            "time_s": round(time.perf_counter() - started, 3),
        }
        return text, report

    def choose(self, name: str | None, duration_s: float, language: str | None) -> str:
        """Which recogniser ``auto`` means for this clip: Moonshine for short English speech (Whisper's
        fixed 30-second window makes a 3-second clip cost as much as a 30-second one), Whisper base for
        long audio, where that window is filled (RTF about 0.2, fewer errors), and for other languages."""
        name = name or self.config.asr_model
        if name != "auto":
            return name
        if language not in (None, "en") or duration_s >= self.config.asr_whisper_from_s:
            return "whisper-base"
        return "moonshine-tiny"

    def recogniser(self, name: str | None = None) -> Transcriber:
        """The speech recogniser called ``name`` (default: the configured one), made on first use."""
        name = name or self.config.asr_model
        if name == "auto":
            name = "moonshine-tiny"
        if name not in self._transcribers:
            if name == "whisper-base":
                self._transcribers[name] = WhisperTranscriber(self.models_dir)
            elif name == "moonshine-tiny":
                from ponder.perception.moonshine import MoonshineTranscriber

                self._transcribers[name] = MoonshineTranscriber()
            else:
                raise PerceptionUnavailableError(
                    f"Unknown speech recogniser '{name}'; use one of {', '.join(ASR_MODELS)}."
                )
        return self._transcribers[name]

    def transcribe(
        self,
        data: bytes,
        label: str = "audio 1",
        *,
        model: str | None = None,
        language: str | None = None,
        prompt: str | None = None,
        word_timestamps: bool = False,
    ) -> Transcript:
        c = self.config
        if model is not None and model not in (*ASR_MODELS, "auto"):  # fail before any decoding
            raise PerceptionUnavailableError(
                f"Unknown speech recogniser '{model}'; use one of {', '.join(ASR_MODELS)}."
            )
        audio = decode_audio(data, max_bytes=c.max_audio_bytes, max_s=c.max_audio_s, name=label)
        if audio.silent:
            raise NoSpeechError(f"No speech found in {label}: its {audio.duration_s:.1f} s are silent.")
        if speech_seconds(audio.samples) == 0:
            raise NoSpeechError(f"No speech found in {label} ({audio.duration_s:.1f} s of audio).")
        language = language or c.language
        recogniser = self.recogniser(self.choose(model, audio.duration_s, language))
        return recogniser.transcribe(
            audio.samples, language=language, prompt=prompt, word_timestamps=word_timestamps
        )

    def hear(self, data: bytes, label: str = "audio 1") -> tuple[str, dict[str, Any]]:
        """(transcript, report) for one audio clip."""
        transcript = self.transcribe(data, label)
        report = {
            "kind": "audio",
            "label": label,
            "path": "asr",
            "engine": transcript.model,
            "transcript": transcript.text,
            "language": transcript.language,
            "duration_s": transcript.duration_s,
            "time_s": transcript.time_s,
            "real_time_factor": round(transcript.real_time_factor, 3),
        }
        return transcript.text, report

    # --- whole conversations -----------------------------------------------------------------------------

    def _cached(
        self, key: str, label: str, work: Callable[[], tuple[str, dict[str, Any]]]
    ) -> tuple[str, dict[str, Any]]:
        """``work()``'s result, or the one kept for the same bytes, relabelled for where they are now."""
        hit = self.cache.get(key)
        if hit is not None:
            text, report = hit
            text = text.replace(f'image="{report["label"]}"', f'image="{label}"', 1)
            return text, {**report, "label": label, "cached": True, "time_s": 0.0}
        text, report = work()  # no lock held: other turns' media are read meanwhile
        self.cache.put(key, (text, report))
        return text, report

    def _part(
        self, part: ImagePart | AudioPart, label: str, native_images: bool, scope: str
    ) -> tuple[Part, dict[str, Any]]:
        digest = f"{scope}\x00{hashlib.sha256(part.data).hexdigest()}"
        if isinstance(part, ImagePart):
            if native_images:
                # Still decoded: a broken or oversized image is refused here, not by the remote server.
                c = self.config
                decoded = decode_image(
                    part.data,
                    max_bytes=c.max_image_bytes,
                    max_pixels=c.max_image_pixels,
                    max_side=c.max_image_side,
                    name=label,
                )
                return part, {
                    "kind": "image",
                    "label": label,
                    "path": "native",
                    "note": "the image went to the vision model as it is",
                    "format": decoded.format,
                    "size": list(decoded.original_size),
                }
            text, report = self._cached(f"image:{digest}", label, lambda: self.read_image(part.data, label))
            return TextPart(text, origin="image"), report
        text, report = self._cached(f"audio:{digest}", label, lambda: self.hear(part.data, label))
        return TextPart(text, origin="audio"), report

    def perceive_sync(
        self, messages: Sequence[Message], *, native_images: bool = False, scope: str = ""
    ) -> tuple[list[Message], list[dict[str, Any]]]:
        """The messages with their media read, and one report per part; ``scope`` (an account) keeps cached
        results apart: a part is a cache hit only for the scope that sent it before."""
        out: list[Message] = []
        reports: list[dict[str, Any]] = []
        counts = {"image": 0, "audio": 0}
        for message in messages:
            if not any(isinstance(p, ImagePart | AudioPart) for p in message.parts):
                out.append(message)
                continue
            parts: list[Part] = []
            for part in message.parts:
                if isinstance(part, ImagePart | AudioPart):
                    kind = "image" if isinstance(part, ImagePart) else "audio"
                    counts[kind] += 1
                    try:
                        new, report = self._part(part, f"{kind} {counts[kind]}", native_images, scope)
                    except MediaError as err:
                        where = "" if len(messages) == 1 else f" (message {len(out) + 1})"
                        raise type(err)(f"{err}{where}") from None
                    parts.append(new)
                    reports.append(report)
                else:
                    parts.append(part)
            out.append(Message(message.role, tuple(parts)))
        return out, reports

    async def perceive(
        self, messages: Sequence[Message], *, native_images: bool = False, scope: str = ""
    ) -> tuple[list[Message], list[dict[str, Any]]]:
        return await asyncio.to_thread(self.perceive_sync, messages, native_images=native_images, scope=scope)
