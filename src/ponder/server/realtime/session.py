"""One live session on ``/v1/realtime``: audio and camera frames in, turns of the one conversation runner
out, as text.

``RealtimeSession.handle`` takes the client's events one by one, in order. Audio goes to ``LiveAudio``
(perception/live_audio.py): its voice activity detection says where speech starts and stops. A stopped
utterance is committed as a user item and transcribed (the session's recogniser, off the event loop), and,
with ``create_response`` on, answered. Text and images (``conversation.item.create``) wait for the next turn;
of the images, only the latest is kept (the frame in view when the person speaks). Each turn is a Ponder
session turn (server/chat.py ``prepare``, on the session this connection keeps), so its history, recall,
perception, limits and charging are those of every other surface.

A response runs as a task. ``response.cancel``, or speech starting while it streams (barge-in, with
``interrupt_response`` on), cancels it: the cancellation reaches the engine, what was streamed is stored as a
stopped turn, and ``response.done`` says ``cancelled``. Events go out through ``emit`` (the route writes
them). Not here: the socket, keys before the connection (routes/realtime.py), the event shapes (wire.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ponder.conversation import TurnDone
from ponder.errors import NoSpeechError, PonderError
from ponder.memory.sessions import new_session_id
from ponder.messages import ImagePart, Message, Part, TextDelta, TextPart
from ponder.perception.live_audio import AudioFormatError, EmptyBufferError, LiveAudio, SpeechStarted
from ponder.server.auth import Principal, admission
from ponder.server.chat import (
    PreparedTurn,
    account_usage,
    charge,
    in_thread,
    learn_later,
    perception_tokens,
    prepare,
    spending,
    start_streamed,
    stream_closed,
    turn_price,
)
from ponder.server.errors import ApiError, from_ponder_error
from ponder.server.protocol import ChatCompletionRequest
from ponder.server.realtime.wire import (
    Events,
    SessionSettings,
    WireError,
    assistant_item,
    new_id,
    response_body,
    user_item,
)
from ponder.server.state import ServerState
from ponder.server.translate import image_part

__all__ = ["RealtimeSession"]

log = logging.getLogger("ponder.server")

Emit = Callable[[dict[str, Any]], None]


@dataclass
class Running:
    """The response streaming now."""

    id: str
    item_id: str
    prepared: PreparedTurn
    task: asyncio.Task[None] | None = None
    text: list[str] = field(default_factory=list)
    reason: str = "client_cancelled"  # why it was cancelled, when it is


class RealtimeSession:
    def __init__(self, state: ServerState, principal: Principal, model: str, beta: bool, emit: Emit) -> None:
        self.state, self.principal, self.beta = state, principal, beta
        self.events = Events(beta)
        self.settings = SessionSettings(model=model)
        self.audio = LiveAudio(self.settings.rate, self.settings.detection)
        self.session_id = new_session_id()  # the Ponder session the turns are stored in
        self.conversation_id = new_id("conv")
        self.pending: list[Part] = []  # what the next turn says: texts, transcripts, the latest frame
        self.last_item: str | None = None
        self.speech_item: str | None = None  # the user item of the speech in progress
        self.running: Running | None = None
        self._utterances: asyncio.Task[None] | None = None  # transcriptions, one after another
        self._emit = emit

    def send(self, kind: str, **fields: Any) -> None:
        event = self.events.make(kind, **fields)
        if event is not None:
            self._emit(event)

    def start(self) -> None:
        self.send("session.created", session=self.settings.to_wire(self.beta))

    async def handle(self, raw: str) -> None:
        """One client event; what it gets wrong is answered with an ``error`` event; the session goes on."""
        event_id = None
        try:
            event = json.loads(raw)
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise WireError("An event is a JSON object with a type.", code="invalid_event")
            event_id = event.get("event_id")
            await self._dispatch(event)
        except json.JSONDecodeError as err:
            self._error(f"The event is not JSON: {err}.", code="invalid_json", event_id=None)
        except (WireError, AudioFormatError, ApiError) as err:
            self._report(err, event_id)

    def _report(self, err: WireError | AudioFormatError | ApiError, event_id: str | None = None) -> None:
        if isinstance(err, WireError):
            self._error(str(err), code=err.code, param=err.param, event_id=event_id)
        elif isinstance(err, AudioFormatError):
            self._error(str(err), code="invalid_audio", param="audio", event_id=event_id)
        else:
            self._error(err.message, code=err.code or "error", kind=err.type, event_id=event_id)

    async def close(self) -> None:
        """The connection ended: stop what runs (a response's turn is stored as stopped). Transcriptions
        first, so that none starts a response after this one is cancelled."""
        if self._utterances is not None:
            self._utterances.cancel()
            await asyncio.gather(self._utterances, return_exceptions=True)
        if self.running is not None:
            await self._cancel("client_cancelled", report=False)

    async def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "session.update":
            self._update(event.get("session"))
        elif kind == "input_audio_buffer.append":
            await self._append(event.get("audio"))
        elif kind == "input_audio_buffer.commit":
            self._commit()
        elif kind == "input_audio_buffer.clear":
            self.audio.clear()
            self.speech_item = None
            self.send("input_audio_buffer.cleared")
        elif kind == "conversation.item.create":
            self._create_item(event.get("item"))
        elif kind == "response.create":
            await self._after_utterances()
            await self._respond()
        elif kind == "response.cancel":
            if self.running is None:
                raise WireError("No response is running.", code="response_cancel_not_active")
            await self._cancel("client_cancelled")
        else:
            raise WireError(f"Unknown event type {kind!r}.", code="unknown_event", param="type")

    # --- the session and its audio -----------------------------------------------------------------

    def _update(self, session: Any) -> None:
        before = self.settings
        self.settings = before.updated(session, self.beta)
        if (before.rate, before.detection) != (self.settings.rate, self.settings.detection):
            self.audio = LiveAudio(self.settings.rate, self.settings.detection)
        self.send("session.updated", session=self.settings.to_wire(self.beta))

    async def _append(self, audio: Any) -> None:
        if not isinstance(audio, str) or not audio:
            raise WireError("audio must be base64 PCM16 audio.", param="audio")
        try:
            pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise WireError("audio is not valid base64.", param="audio") from None
        for found in self.audio.append(pcm):
            if isinstance(found, SpeechStarted):
                self.speech_item = new_id("item")
                self.send(
                    "input_audio_buffer.speech_started",
                    audio_start_ms=found.audio_start_ms,
                    item_id=self.speech_item,
                )
                if self.running is not None and self.settings.interrupt_response:
                    await self._cancel("turn_detected")  # barge-in: the person speaks over the answer
                continue
            item_id = self.speech_item or new_id("item")
            self.speech_item = None
            self.send("input_audio_buffer.speech_stopped", audio_end_ms=found.audio_end_ms, item_id=item_id)
            self._utterance(item_id, found.samples, respond=self.settings.create_response)

    def _commit(self) -> None:
        try:
            samples = self.audio.commit()
        except EmptyBufferError as err:
            raise WireError(str(err), code="input_audio_buffer_commit_empty") from None
        item_id = self.speech_item or new_id("item")
        self.speech_item = None
        self._utterance(item_id, samples, respond=False)

    def _utterance(self, item_id: str, samples: np.ndarray, *, respond: bool) -> None:
        """Commit the utterance as a user item now; transcribe it (and answer it) after those before it."""
        previous, self.last_item = self.last_item, item_id
        self.send("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        item = user_item(item_id, [{"type": "input_audio", "transcript": None}])
        self.send("conversation.item.added", item=item, previous_item_id=previous)
        before = self._utterances
        self._utterances = asyncio.create_task(self._transcribe(before, item_id, previous, samples, respond))

    async def _transcribe(
        self,
        before: asyncio.Task[None] | None,
        item_id: str,
        previous: str | None,
        samples: np.ndarray,
        respond: bool,
    ) -> None:
        if before is not None:
            await asyncio.gather(before, return_exceptions=True)
        perception = self.state.perception
        seconds = len(samples) / 16_000
        try:
            if perception is None:
                raise WireError(
                    "This server has no speech recognition (install ponder[voice]).", code="no_asr"
                )
            recogniser = perception.recogniser(
                perception.choose(self.settings.transcription_model, seconds, "en")
            )
            transcript = (await asyncio.to_thread(recogniser.transcribe, samples)).text.strip()
            if not transcript:
                raise NoSpeechError("No speech was recognised in the audio.")
        except (PonderError, WireError) as err:
            code = (
                "no_speech"
                if isinstance(err, NoSpeechError)
                else getattr(err, "code", "transcription_failed")
            )
            self.send(
                "conversation.item.input_audio_transcription.failed",
                item_id=item_id,
                content_index=0,
                error={"type": "transcription_error", "code": code, "message": str(err), "param": None},
            )
            return
        await self._charge_audio(seconds)
        self.send(
            "conversation.item.input_audio_transcription.delta",
            item_id=item_id,
            content_index=0,
            delta=transcript,
        )
        self.send(
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=transcript,
            usage={"type": "duration", "seconds": round(seconds, 3)},
        )
        item = user_item(item_id, [{"type": "input_audio", "transcript": transcript}])
        self.send("conversation.item.done", item=item, previous_item_id=previous)
        self.pending.append(TextPart(transcript, origin="audio"))
        if respond and self.running is None:
            try:
                await self._respond()
            except (WireError, ApiError) as err:  # refused by the limits, or nothing to answer: said so
                self._report(err)
            except Exception:
                log.exception("a live session's turn could not start")
                self._error("The answer could not be started.", code="server_error", kind="server_error")

    async def _after_utterances(self) -> None:
        if self._utterances is not None:
            await asyncio.gather(self._utterances, return_exceptions=True)

    async def _charge_audio(self, seconds: float) -> None:
        tokens = perception_tokens(self.principal.tier, [{"kind": "audio", "duration_s": seconds}])
        await self.state.limiter.charge_tokens(self.principal.key_id, tokens)

    def _create_item(self, item: Any) -> None:
        if (
            not isinstance(item, dict)
            or item.get("type", "message") != "message"
            or item.get("role") != "user"
        ):
            raise WireError(
                "Only user messages can be added: {type: message, role: user, content: [...]}.", param="item"
            )
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise WireError(
                "item.content must be a list of input_text and input_image parts.", param="item.content"
            )
        parts = [_part(p, f"item.content[{i}]") for i, p in enumerate(content)]
        if any(isinstance(p, ImagePart) for p in parts):  # the latest frame replaces those before it
            self.pending = [p for p in self.pending if not isinstance(p, ImagePart)]
        self.pending += parts
        given = item.get("id")
        item_id = given if isinstance(given, str) and given else new_id("item")
        previous, self.last_item = self.last_item, item_id
        shown = [p if p.get("type") != "input_image" else {"type": "input_image"} for p in content]  # no echo
        self.send("conversation.item.added", item=user_item(item_id, shown), previous_item_id=previous)
        self.send("conversation.item.done", item=user_item(item_id, shown), previous_item_id=previous)

    # --- responses -----------------------------------------------------------------------------------

    async def _respond(self) -> None:
        if self.running is not None:
            raise WireError("A response is already running.", code="conversation_already_has_active_response")
        if not any(isinstance(p, TextPart) for p in self.pending):
            raise WireError(
                "There is nothing to answer yet: speak, or add a user message.", code="empty_turn"
            )
        parts, self.pending = tuple(self.pending), []
        messages = [Message("user", parts)]
        if self.settings.instructions:
            messages.insert(0, Message.system(self.settings.instructions))
        request = ChatCompletionRequest.model_validate(
            {
                "model": self.settings.model,
                "messages": [{"role": "user", "content": "."}],  # the turn's own messages are passed below
                "stream": True,
                "user": self.principal.user,
                "max_completion_tokens": self.settings.max_output_tokens,
            }
        )
        state, principal = self.state, self.principal
        prepared = await in_thread(state, 0, prepare, state, principal, request, 0, self.session_id, messages)
        admitted = await admission(state, principal, turn_price(state, prepared))  # 429: an error event
        rate, allowance = spending(prepared, admitted)
        running = Running(new_id("resp"), new_id("item"), prepared)
        self.running = running
        self.send("response.created", response=self._body(running, "in_progress", []))
        item = assistant_item(running.item_id, None, "in_progress", self.beta)
        self.send("response.output_item.added", response_id=running.id, output_index=0, item=item)
        previous, self.last_item = self.last_item, running.item_id
        self.send("conversation.item.added", item=item, previous_item_id=previous)
        self.send("response.content_part.added", **self._where(running), part={"type": "text", "text": ""})
        running.task = asyncio.create_task(self._run(running, rate, allowance))

    async def _run(self, running: Running, rate: float, allowance: int | None) -> None:
        state, prepared = self.state, running.prepared
        started = False
        try:
            await start_streamed(state, prepared, rate, allowance)  # a slot, the meter, perception
            started = True
            async with asyncio.timeout(state.settings.server.turn_timeout_s):
                async for event in prepared.turn.run():
                    if isinstance(event, TextDelta) and event.text:
                        running.text.append(event.text)
                        self.send("response.output_text.delta", **self._where(running), delta=event.text)
                    elif isinstance(event, TurnDone):
                        await learn_later(state, prepared)
                        await charge(state, prepared, rate, event.result)
                        account_usage(state, event.result)
                        usage = event.result.usage
                        self._finish(
                            running, "completed", None, _usage(usage.prompt_tokens, usage.completion_tokens)
                        )
        except asyncio.CancelledError:
            await asyncio.to_thread(prepared.turn.store_stopped)
            self._finish(running, "cancelled", {"type": "cancelled", "reason": running.reason}, None)
        except (ApiError, PonderError, TimeoutError) as err:
            api = err if isinstance(err, ApiError) else _api_error(err)
            self._error(api.message, code=api.code or "error", kind=api.type)
            failure = {"type": api.type, "code": api.code, "message": api.message}
            self._finish(running, "failed", {"type": "failed", "error": failure}, None)
        except Exception:  # a fault of ours: the client still learns the response ended
            log.exception("a live session's response failed")
            self._error("The answer failed on the server.", code="server_error", kind="server_error")
            failure = {"type": "server_error", "code": "server_error", "message": "The answer failed."}
            self._finish(running, "failed", {"type": "failed", "error": failure}, None)
        finally:
            if started:  # the slot back, and the turn charged if it did not get to that
                stream_closed(state, prepared, rate)
            if self.running is running:
                self.running = None

    def _finish(
        self, running: Running, status: str, details: dict[str, Any] | None, usage: dict[str, Any] | None
    ) -> None:
        text = "".join(running.text)
        where = self._where(running)
        if status == "completed":
            self.send("response.output_text.done", **where, text=text)
            self.send("response.content_part.done", **where, part={"type": "text", "text": text})
        item = assistant_item(
            running.item_id, text, "completed" if status == "completed" else "incomplete", self.beta
        )
        self.send("response.output_item.done", response_id=running.id, output_index=0, item=item)
        self.send("conversation.item.done", item=item, previous_item_id=None)
        self.send("response.done", response=self._body(running, status, [item], details=details, usage=usage))

    async def _cancel(self, reason: str, *, report: bool = True) -> None:
        running = self.running
        if running is None or running.task is None:
            return
        running.reason = reason
        if not report:
            self._emit = lambda event: None  # the connection is gone: nothing to tell
        running.task.cancel()
        await asyncio.gather(running.task, return_exceptions=True)

    def _body(
        self, running: Running, status: str, output: list[dict[str, Any]], **extra: Any
    ) -> dict[str, Any]:
        return response_body(
            running.id,
            status,
            output,
            self.beta,
            conversation_id=self.conversation_id,
            max_output_tokens=self.settings.max_output_tokens,
            **extra,
        )

    @staticmethod
    def _where(running: Running) -> dict[str, Any]:
        return {"response_id": running.id, "item_id": running.item_id, "output_index": 0, "content_index": 0}

    def _error(
        self,
        message: str,
        *,
        code: str,
        param: str | None = None,
        kind: str = "invalid_request_error",
        event_id: str | None = None,
    ) -> None:
        self._emit(self.events.error(message, code=code, kind=kind, param=param, event_id=event_id))


def _part(part: Any, where: str) -> Part:
    if not isinstance(part, dict):
        raise WireError(f"{where} must be an object.", param=where)
    if part.get("type") in ("input_text", "text"):
        if not isinstance(part.get("text"), str):
            raise WireError(f"{where}.text must be a string.", param=f"{where}.text")
        return TextPart(part["text"])
    if part.get("type") == "input_image":
        url = part.get("image_url")
        url = url.get("url") if isinstance(url, dict) else url  # a chat-style {url: ...} is taken too
        try:
            return image_part(url if isinstance(url, str) else "", f"{where}.image_url", "a base64 data URL")
        except ApiError as err:  # said as the session says it: an error event naming the part
            raise WireError(err.message, code="invalid_value", param=err.param) from None
    raise WireError(f"{where}.type must be input_text or input_image.", param=f"{where}.type")


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "total_tokens": prompt + completion,
        "input_tokens": prompt,
        "output_tokens": completion,
        "input_token_details": {
            "text_tokens": prompt,
            "audio_tokens": 0,
            "image_tokens": 0,
            "cached_tokens": 0,
        },
        "output_token_details": {"text_tokens": completion, "audio_tokens": 0},
    }


def _api_error(err: PonderError | TimeoutError) -> ApiError:
    if isinstance(err, TimeoutError):
        return ApiError(504, "The turn took too long and was stopped.", "timeout", "turn_timeout")
    return from_ponder_error(err)
