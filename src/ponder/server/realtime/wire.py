"""The Realtime API's shapes, text out: the session's settings read from ``session.update``, and the server
events written as OpenAI's GA API names them (or its beta, for a client that sends ``OpenAI-Beta:
realtime=v1``).

``SessionSettings.updated`` reads a GA session (``{"type": "realtime", "audio": {"input": {...}}}``) or a beta
one (flat: ``modalities``, ``input_audio_format``, ``turn_detection``) and refuses what Ponder does not do
(audio out, a format other than PCM16 at 24 or 16 kHz, client tools) with a ``WireError`` naming the field.
``Events`` numbers and names the server's events; ``user_item`` and ``assistant_item`` are the conversation
items they carry. Not here: what happens in a session (session.py) or the socket (routes/realtime.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ponder.perception.live_audio import TurnDetection

__all__ = [
    "Events",
    "SessionSettings",
    "WireError",
    "assistant_item",
    "new_id",
    "response_body",
    "user_item",
]

RATES: Final = (24_000, 16_000)
# GA event names a beta client knows by other names.
BETA_NAMES: Final = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
BETA_ONLY_ONCE: Final = {"conversation.item.done"}  # beta has no such event: its .created said it all


class WireError(ValueError):
    """A client event Ponder cannot take: sent back as an ``error`` event (``invalid_request_error``)."""

    def __init__(self, message: str, *, code: str = "invalid_value", param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.param = code, param


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


@dataclass(frozen=True)
class SessionSettings:
    """What ``session.update`` set: instructions, the input rate, turn detection (None: the client commits
    its turns) and whether a detected turn gets a response by itself."""

    model: str
    id: str = field(default_factory=lambda: new_id("sess"))
    instructions: str = ""
    rate: int = 24_000
    detection: TurnDetection | None = field(default_factory=TurnDetection)
    create_response: bool = True
    interrupt_response: bool = True
    transcription_model: str = "auto"
    max_output_tokens: int | None = None

    def updated(self, session: Any, beta: bool) -> SessionSettings:
        if not isinstance(session, dict):
            raise WireError("session must be an object.", param="session")
        if beta or ("audio" not in session and session.get("type") != "realtime"):
            return self._from_beta(session)
        return self._from_ga(session)

    def _from_ga(self, session: dict[str, Any]) -> SessionSettings:
        changed = self._common(session, "output_modalities")
        audio_in = _object(_object(session.get("audio"), "session.audio").get("input"), "session.audio.input")
        if "format" in audio_in:
            changed = replace(changed, rate=_rate(audio_in["format"]))
        if "turn_detection" in audio_in:
            changed = changed._detection(audio_in["turn_detection"], "session.audio.input.turn_detection")
        if isinstance(audio_in.get("transcription"), dict) and audio_in["transcription"].get("model"):
            changed = replace(changed, transcription_model=_transcriber(audio_in["transcription"]["model"]))
        return changed

    def _from_beta(self, session: dict[str, Any]) -> SessionSettings:
        changed = self._common(session, "modalities")
        if "input_audio_format" in session:
            if session["input_audio_format"] != "pcm16":
                raise WireError(
                    "input_audio_format must be pcm16 (16-bit PCM, 24 kHz).",
                    param="session.input_audio_format",
                )
            changed = replace(changed, rate=24_000)
        if "turn_detection" in session:
            changed = changed._detection(session["turn_detection"], "session.turn_detection")
        transcription = session.get("input_audio_transcription")
        if isinstance(transcription, dict) and transcription.get("model"):
            changed = replace(changed, transcription_model=_transcriber(transcription["model"]))
        return changed

    def _common(self, session: dict[str, Any], modalities: str) -> SessionSettings:
        changed = self
        if session.get(modalities) not in (None, ["text"]):
            raise WireError(
                f'Ponder answers in text only: {modalities} must be ["text"] (the client may speak it).',
                param=f"session.{modalities}",
            )
        if session.get("tools"):
            raise WireError(
                "Client tools are not taken on /v1/realtime yet: the server's own tools run in its turns.",
                code="unknown_parameter",
                param="session.tools",
            )
        if "instructions" in session:
            if not isinstance(session["instructions"], str):
                raise WireError("instructions must be a string.", param="session.instructions")
            changed = replace(changed, instructions=session["instructions"])
        limit = session.get("max_output_tokens", session.get("max_response_output_tokens"))
        if limit is not None:
            changed = replace(changed, max_output_tokens=None if limit == "inf" else _positive(limit))
        return changed

    def _detection(self, value: Any, where: str) -> SessionSettings:
        if value is None:
            return replace(self, detection=None)
        detection = _object(value, where)
        if detection.get("type", "server_vad") != "server_vad":
            raise WireError(f"{where}.type: only server_vad is supported.", param=f"{where}.type")
        now = self.detection or TurnDetection()
        threshold = float(detection.get("threshold", now.threshold))
        if not 0.0 < threshold < 1.0:
            raise WireError(f"{where}.threshold must be between 0 and 1.", param=f"{where}.threshold")
        return replace(
            self,
            detection=TurnDetection(
                threshold=threshold,
                prefix_padding_ms=_ms(detection.get("prefix_padding_ms", now.prefix_padding_ms), where),
                silence_duration_ms=_ms(detection.get("silence_duration_ms", now.silence_duration_ms), where),
            ),
            create_response=bool(detection.get("create_response", True)),
            interrupt_response=bool(detection.get("interrupt_response", True)),
        )

    def to_wire(self, beta: bool) -> dict[str, Any]:
        detection = None
        if self.detection is not None:
            detection = {
                "type": "server_vad",
                "threshold": self.detection.threshold,
                "prefix_padding_ms": self.detection.prefix_padding_ms,
                "silence_duration_ms": self.detection.silence_duration_ms,
                "create_response": self.create_response,
                "interrupt_response": self.interrupt_response,
            }
        limit: int | str = self.max_output_tokens or "inf"
        if beta:
            return {
                "id": self.id,
                "object": "realtime.session",
                "model": self.model,
                "modalities": ["text"],
                "instructions": self.instructions,
                "input_audio_format": "pcm16",
                "input_audio_transcription": {"model": self.transcription_model},
                "turn_detection": detection,
                "tools": [],
                "max_response_output_tokens": limit,
            }
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.id,
            "model": self.model,
            "output_modalities": ["text"],
            "instructions": self.instructions,
            "max_output_tokens": limit,
            "tools": [],
            "tool_choice": "auto",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": self.rate},
                    "transcription": {"model": self.transcription_model},
                    "noise_reduction": None,
                    "turn_detection": detection,
                }
            },
        }


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WireError(f"{where} must be an object.", param=where)
    return value


def _rate(value: Any) -> int:
    where = "session.audio.input.format"
    audio_format = _object(value, where)
    if audio_format.get("type", "audio/pcm") != "audio/pcm":
        raise WireError(f"{where}.type: only audio/pcm (16-bit PCM) is taken.", param=f"{where}.type")
    rate = audio_format.get("rate", 24_000)
    if rate not in RATES:
        raise WireError(f"{where}.rate must be 24000 or 16000, not {rate!r}.", param=f"{where}.rate")
    return int(rate)


def _ms(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000:
        raise WireError(f"{where}: durations are whole milliseconds from 0 to 10000.", param=where)
    return value


def _positive(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise WireError(
            'max_output_tokens must be a positive whole number or "inf".', param="max_output_tokens"
        )
    return value


def _transcriber(name: Any) -> str:
    # OpenAI's names (whisper-1, gpt-4o-transcribe) mean "transcribe it": Ponder picks its own recogniser.
    return str(name) if str(name) in ("moonshine-tiny", "whisper-base", "auto") else "auto"


def user_item(item_id: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": content,
    }


def assistant_item(item_id: str, text: str | None, status: str, beta: bool) -> dict[str, Any]:
    content = [] if text is None else [{"type": "text" if beta else "output_text", "text": text}]
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def response_body(
    response_id: str,
    status: str,
    output: list[dict[str, Any]],
    beta: bool,
    *,
    details: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
    conversation_id: str = "",
    max_output_tokens: int | None = None,
) -> dict[str, Any]:
    return {
        "object": "realtime.response",
        "id": response_id,
        "status": status,
        "status_details": details,
        "output": output,
        "conversation_id": conversation_id,
        "modalities" if beta else "output_modalities": ["text"],
        "max_output_tokens": max_output_tokens or "inf",
        "usage": usage,
        "metadata": None,
    }


class Events:
    """The server's events of one connection: each gets an ``event_id``, and a GA name becomes the beta one
    for a beta client (an event beta does not have is not sent to it)."""

    def __init__(self, beta: bool) -> None:
        self.beta = beta
        self._count = 0

    def make(self, kind: str, **fields: Any) -> dict[str, Any] | None:
        if self.beta and kind in BETA_ONLY_ONCE:
            return None
        self._count += 1
        name = BETA_NAMES.get(kind, kind) if self.beta else kind
        return {"type": name, "event_id": f"event_{self._count:06d}", **fields}

    def error(
        self,
        message: str,
        *,
        code: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        made = self.make(
            "error",
            error={"type": kind, "code": code, "message": message, "param": param, "event_id": event_id},
        )
        assert made is not None
        return made
