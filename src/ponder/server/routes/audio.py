"""The audio transcription route (OpenAI's ``POST /v1/audio/transcriptions``): the form fields, then the
serving function (server/transcriptions.py), which admits the caller and runs the speech recogniser."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from ponder.server.routes.depends import ERRORS, State
from ponder.server.transcriptions import transcribe

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/audio/transcriptions", response_model=None, responses=ERRORS)
async def create_transcription(
    request: Request,
    state: State,
    file: Annotated[UploadFile, File(description="The audio: WAV, FLAC, OGG/Opus, MP3, M4A/MP4 or WebM.")],
    model: Annotated[str, Form(description="whisper-1 or whisper-base (Whisper base), or moonshine-tiny")],
    language: Annotated[str | None, Form(description="ISO 639-1 code; detected when absent")] = None,
    prompt: Annotated[str | None, Form(description="Text that guides spelling and style")] = None,
    response_format: Annotated[str, Form(description="json, text, srt, verbose_json or vtt")] = "json",
    temperature: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
    granularities: Annotated[list[str] | None, Form(alias="timestamp_granularities[]")] = None,
) -> Response:
    """Transcribe audio (OpenAI's audio transcriptions), with the embedded speech recogniser."""
    data = await file.read()
    return await transcribe(
        state,
        request,
        data=data,
        filename=file.filename or "the file",
        model=model,
        language=language,
        prompt=prompt,
        response_format=response_format,
        temperature=temperature,
        granularities=granularities or [],
    )
