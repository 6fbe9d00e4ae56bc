"""``POST /v1/audio/transcriptions``: speech to text in OpenAI's shape, on the embedded recogniser.

The request is multipart/form-data: ``file`` (WAV, FLAC, OGG/Opus, MP3, M4A/MP4, WebM), ``model``
(``whisper-1`` is accepted as a name for the embedded recogniser, so OpenAI clients work unchanged),
``language``, ``prompt``, ``response_format`` (json, text, srt, vtt, verbose_json), ``temperature`` and
``timestamp_granularities[]`` (segment, word; verbose_json only). ``whisper-1`` and ``whisper-base`` run
Whisper base; ``moonshine-tiny`` runs the fast English recogniser. The key and limits are those of chat
completions (one request's price, and the audio's seconds in tokens of the day, as perception in a chat
turn); the work holds one of the key's turn slots.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ponder.errors import MediaError, NoSpeechError, PonderError
from ponder.perception import Transcript
from ponder.server.auth import admit, authenticate
from ponder.server.errors import ApiError, from_ponder_error
from ponder.server.state import ServerState

__all__ = ["ASR_MODELS", "RESPONSE_FORMATS", "transcribe"]

# model name -> recogniser. whisper-1 is OpenAI's name: OpenAI clients get Whisper (base) unchanged.
ASR_MODELS = {
    "whisper-1": "whisper-base",
    "whisper-base": "whisper-base",
    "moonshine-tiny": "moonshine-tiny",
    "auto": "auto",  # Moonshine for short English clips, Whisper base for long audio (see PerceptionConfig)
}
RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")


async def transcribe(
    state: ServerState,
    request: Request,
    *,
    data: bytes,
    filename: str,
    model: str,
    language: str | None,
    prompt: str | None,
    response_format: str,
    temperature: float,
    granularities: list[str],
) -> Response:
    principal = await authenticate(state, request.headers.get("authorization"))
    request.scope["state"]["account"] = principal.account
    headers = await admit(state, principal, 1.0)
    if model not in ASR_MODELS:
        raise ApiError(
            404,
            f"Unknown transcription model '{model}'. This server transcribes with: {', '.join(ASR_MODELS)}.",
            "invalid_request_error",
            "model_not_found",
            "model",
        )
    if response_format not in RESPONSE_FORMATS:
        allowed = ", ".join(RESPONSE_FORMATS)
        raise ApiError(400, f"response_format must be one of {allowed}.", param="response_format")
    if not 0.0 <= temperature <= 1.0:
        raise ApiError(400, "temperature must be between 0 and 1.", param="temperature")
    unknown = sorted(set(granularities) - {"segment", "word"})
    if unknown:
        raise ApiError(
            400,
            f"Unknown timestamp granularity {unknown[0]!r}: use segment or word.",
            param="timestamp_granularities",
        )
    if granularities and response_format != "verbose_json":
        raise ApiError(
            400,
            "timestamp_granularities needs response_format verbose_json.",
            param="timestamp_granularities",
        )
    if language is not None and not (2 <= len(language) <= 3 and language.isalpha()):
        raise ApiError(400, "language must be an ISO 639-1 code such as 'en'.", param="language")
    perception = state.perception
    assert perception is not None  # ServerState always makes one
    started = time.perf_counter()
    async with state.turn_slot(principal.key_id):
        try:
            transcript = await asyncio.to_thread(
                perception.transcribe,
                data,
                filename or "the file",
                model=ASR_MODELS[model],
                language=language,
                prompt=prompt,
                word_timestamps="word" in granularities,
            )
        except NoSpeechError as err:
            raise ApiError(400, str(err), code="no_speech", param="file") from None
        except MediaError as err:
            raise ApiError(400, str(err), code="invalid_media", param="file") from None
        except PonderError as err:
            raise from_ponder_error(err) from err
    state.metrics.perception_seconds.observe(time.perf_counter() - started)
    tokens = math.ceil(transcript.duration_s * principal.tier.tokens_per_audio_second)
    await state.limiter.charge_tokens(principal.key_id, tokens)
    return _response(transcript, response_format, granularities, headers)


def _response(t: Transcript, fmt: str, granularities: list[str], headers: dict[str, str]) -> Response:
    usage = {"type": "duration", "seconds": round(t.duration_s, 2)}
    if fmt == "json":
        return JSONResponse({"text": t.text, "usage": usage}, headers=headers)
    if fmt == "text":
        return PlainTextResponse(t.text + "\n", headers=headers)
    if fmt in ("srt", "vtt"):
        return PlainTextResponse(_subtitles(t, fmt), headers=headers, media_type="text/plain")
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": t.language,
        "duration": round(t.duration_s, 2),
        "text": t.text,
        "usage": usage,
        "ponder": {"model": t.model, "time_s": t.time_s, "real_time_factor": round(t.real_time_factor, 3)},
    }
    if not granularities or "segment" in granularities:
        body["segments"] = [
            {
                "id": i,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": list(s.tokens),
                "temperature": s.temperature,
                "avg_logprob": round(s.avg_logprob, 4),
                "compression_ratio": round(s.compression_ratio, 4),
                "no_speech_prob": round(s.no_speech_prob, 4),
            }
            for i, s in enumerate(t.segments)
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": w["word"].strip(), "start": w["start"], "end": w["end"]}
            for s in t.segments
            for w in s.words
        ]
    return JSONResponse(body, headers=headers)


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _subtitles(t: Transcript, fmt: str) -> str:
    sep = "," if fmt == "srt" else "."
    cues = []
    for i, s in enumerate(t.segments, start=1):
        timing = f"{_stamp(s.start, sep)} --> {_stamp(s.end, sep)}"
        cues.append(f"{i}\n{timing}\n{s.text.strip()}\n" if fmt == "srt" else f"{timing}\n{s.text.strip()}\n")
    head = "" if fmt == "srt" else "WEBVTT\n\n"
    return head + "\n".join(cues)
