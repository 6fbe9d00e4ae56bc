"""``ponder live``: a live session from the terminal, as a client of ``GET /v1/realtime``.

Audio (a file, or the microphone until Ctrl-C) goes to the server in 20 ms chunks of 16 kHz PCM16 (a rate
the endpoint takes: the microphone and ``decode_audio`` both give 16 kHz, so nothing is resampled twice);
the server's voice detection finds the turns, transcribes and answers them. This prints what was heard
(``heard: ...``, on stderr) and streams the answers to stdout. Without ``--url`` the session runs on Ponder's
app started in this process (a free loopback port, no key), with this command's settings.

Camera frames (``--frames DIR``, PNG or JPEG, in file-name order) go as ``conversation.item.create`` user
items holding one ``input_image`` part: the first before any audio, then the next each ``--frame-every``
seconds of audio sent (timed by the audio, so ``--fast`` sends them at the same points of it), none after
the last. The server keeps the latest frame and reads it with the next turn.

When the input ends (the file is sent, or Ctrl-C), 1.5 s of silence lets the voice detection end the turn
in progress; a ``session.update`` after it is answered once the server has judged all the audio. The
command then waits for the last answer and exits. Not here: the conversation itself (the server's runner,
server/realtime/), camera devices, audio out.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode, urlsplit

import click
import numpy as np
from rich.text import Text

from ponder.config import Settings
from ponder.errors import BackendConnectionError, BackendError, MediaError
from ponder.modes.registry import MODE_CHOICES

from .context import CliContext
from .render import AssemblyProgress, err_console, print_error, print_stopped, write_stdout
from .sanitize import ControlFilter, plain

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

__all__ = ["live"]

RATE: Final = 16_000  # PCM16 mono, sent as the session's input format
CHUNK_BYTES: Final = RATE * 2 // 50  # 20 ms
TRAILING_SILENCE: Final = bytes(RATE * 3)  # 1.5 s: longer than the silence that ends a turn
FRAME_TYPES: Final = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
SESSION: Final = {
    "type": "realtime",
    "output_modalities": ["text"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": RATE},
            "turn_detection": {"type": "server_vad", "create_response": True, "interrupt_response": True},
        }
    },
}
ANSWER_AGAIN: Final = "answer_again"  # the event_id of a response.create this client sends


@click.command()
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An audio file (WAV, FLAC, OGG, MP3, M4A, WebM) to stream; without it, the microphone until Ctrl-C.",
)
@click.option(
    "--frames",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A folder of camera frames (PNG, JPEG), sent in file-name order: the first at the start, then one "
    "each --frame-every seconds of audio.",
)
@click.option(
    "--frame-every", type=click.FloatRange(min=0.1), default=1.0, show_default=True, help="Seconds per frame."
)
@click.option(
    "--url", default=None, help="A Ponder server (http://host:port); without it, one runs in-process."
)
@click.option(
    "--key", envvar="PONDER_API_KEY", default=None, help="The API key for --url (or PONDER_API_KEY)."
)
@click.option(
    "--mode", type=click.Choice(MODE_CHOICES), default="instant", show_default=True, help="Reasoning mode."
)
@click.option("--model", "-m", "model", default=None, help="The model behind the modes (in-process only).")
@click.option("--fast", is_flag=True, help="Send the file as fast as the server takes it, not in real time.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Seconds to wait for the server once the input has ended.",
)
@click.pass_obj
def live(
    obj: CliContext,
    /,
    input_path: Path | None,
    frames: Path | None,
    frame_every: float,
    url: str | None,
    key: str | None,
    mode: str,
    model: str | None,
    fast: bool,
    timeout: float,
) -> None:
    """Talk to Ponder live: stream speech (and camera frames) to /v1/realtime, print what was heard and the
    answers as they come. Camera devices are not read yet: pass frames with --frames."""
    frame_paths = _frame_paths(frames) if frames is not None else []
    target = _realtime_url(url, f"ponder-{mode}") if url is not None else None
    if input_path is not None:
        pcm = _decode(input_path)
        source: Callable[[asyncio.Event], AsyncIterator[bytes]] = functools.partial(_file_chunks, pcm)
        pace = not fast
        err_console.print(f"Streaming {input_path} ({len(pcm) / 2 / RATE:.1f} s).", style="dim", markup=False)
    else:
        from ponder.perception.microphone import input_device

        input_device()  # no PortAudio, no microphone: said now, before anything starts
        source, pace = _microphone_chunks, False
        err_console.print("Listening: speak; Ctrl-C ends the session.", style="bold")
    with contextlib.ExitStack() as stack:
        if target is None:  # Ponder in this process: no key needed
            settings = obj.settings(**({"model": model} if model else {}))
            local = stack.enter_context(_local_server(obj, settings))
            target, key = _realtime_url(local, f"ponder-{mode}"), None
        session = _Session(key, _Frames(frame_paths, frame_every), pace, timeout)
        try:
            asyncio.run(session.run(target, source))
        except asyncio.CancelledError:  # Ctrl-C twice
            print_stopped()
            raise click.exceptions.Exit(130) from None


# --- what is sent -----------------------------------------------------------------------------------


def _decode(path: Path) -> bytes:
    from ponder.perception.audio import decode_audio

    decoded = decode_audio(path.read_bytes(), name=str(path))
    return bytes((np.clip(decoded.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())


async def _file_chunks(pcm: bytes, stop: asyncio.Event) -> AsyncIterator[bytes]:
    for start in range(0, len(pcm), CHUNK_BYTES):
        if stop.is_set():
            return
        yield pcm[start : start + CHUNK_BYTES]


async def _microphone_chunks(stop: asyncio.Event) -> AsyncIterator[bytes]:
    from ponder.perception.microphone import listening

    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue()  # None: the input ended

    async def end() -> None:
        await stop.wait()
        chunks.put_nowait(None)

    def heard(chunk: bytes) -> None:  # on PortAudio's thread
        loop.call_soon_threadsafe(chunks.put_nowait, chunk)

    ender = asyncio.create_task(end())
    try:
        with listening(heard):
            while (chunk := await chunks.get()) is not None:
                yield chunk
    finally:
        ender.cancel()


def _frame_paths(folder: Path) -> list[Path]:
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_TYPES and p.is_file())
    if not found:
        raise click.BadParameter(f"{folder} holds no PNG or JPEG frames.", param_hint="--frames")
    return found


class _Frames:
    """The camera frames still to send: the first at 0 s of audio, then one each ``every`` seconds."""

    def __init__(self, paths: list[Path], every: float) -> None:
        self.paths, self.every, self.sent = paths, every, 0

    def due(self, position_s: float) -> Iterator[dict[str, Any]]:
        while self.sent < len(self.paths) and self.sent * self.every <= position_s:
            path = self.paths[self.sent]
            self.sent += 1
            try:
                data = base64.b64encode(path.read_bytes()).decode()
            except OSError as err:
                raise MediaError(f"The frame {path} cannot be read: {err.strerror}.") from None
            url = f"data:{FRAME_TYPES[path.suffix.lower()]};base64,{data}"
            content = [{"type": "input_image", "image_url": url}]
            yield {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": content},
            }


# --- the session ------------------------------------------------------------------------------------


class _Session:
    """One connection: the audio and frames sent, the server's events shown, and what is still to come."""

    def __init__(self, key: str | None, frames: _Frames, pace: bool, timeout: float) -> None:
        self.key, self.frames, self.pace, self.timeout = key, frames, pace, timeout
        self.view = _View()

    async def run(self, url: str, source: Callable[[asyncio.Event], AsyncIterator[bytes]]) -> None:
        stop = asyncio.Event()
        _on_ctrl_c(stop)
        try:
            async with await _connect(url, self.key) as ws:
                await self._configure(ws)
                sender = asyncio.create_task(self._send(ws, source(stop)))
                receiver = asyncio.create_task(self._receive(ws))
                try:
                    await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_EXCEPTION)
                    if sender.done() and not sender.cancelled() and sender.exception() is not None:
                        await sender  # raises what stopped the input
                    await receiver
                finally:
                    for task in (sender, receiver):
                        task.cancel()
                    await asyncio.gather(sender, receiver, return_exceptions=True)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)

    async def _configure(self, ws: ClientConnection) -> None:
        await ws.send(json.dumps({"type": "session.update", "session": SESSION}))
        while True:
            try:
                event = json.loads(await asyncio.wait_for(ws.recv(), self.timeout))
            except TimeoutError:
                raise BackendError(
                    f"The server did not take the session's settings in {self.timeout:g} s."
                ) from None
            if event.get("type") == "session.updated":
                return
            if event.get("type") == "error":
                message = event.get("error", {}).get("message", "no reason given")
                raise BackendError(f"The server refused the session's settings: {message}")

    async def _send(self, ws: ClientConnection, chunks: AsyncIterator[bytes]) -> None:
        started = time.monotonic()
        position = 0.0  # seconds of audio sent
        async for chunk in chunks:
            for frame in self.frames.due(position):
                await ws.send(json.dumps(frame))
            await ws.send(_append(chunk))
            position += len(chunk) / 2 / RATE
            if self.pace:
                await asyncio.sleep(max(0.0, started + position - time.monotonic()))
        await ws.send(_append(TRAILING_SILENCE))
        await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))  # the end

    async def _receive(self, ws: ClientConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        view = self.view
        while not (view.input_judged and view.idle):
            try:
                raw = await asyncio.wait_for(ws.recv(), self.timeout if view.input_judged else None)
            except TimeoutError:
                raise BackendError(
                    f"Nothing came from the server for {self.timeout:g} s after the input ended "
                    f"({view.waiting_for()}): giving up."
                ) from None
            except ConnectionClosed as closed:
                reason = closed.rcvd.reason if closed.rcvd is not None and closed.rcvd.reason else "no reason"
                raise BackendError(f"The server closed the session ({reason}).") from None
            view.show(json.loads(raw))
            if view.answer_again():
                await ws.send(json.dumps({"type": "response.create", "event_id": ANSWER_AGAIN}))


class _View:
    """The server's events as the terminal shows them, and what the session still waits for.

    The server answers an utterance by itself when its transcript comes while no answer streams; one heard
    during an answer waits for the next turn, so this client asks for it (``response.create``) once nothing
    else is in progress.
    """

    def __init__(self) -> None:
        self.speaking = False
        self.transcribing: set[str] = set()  # ids of the utterances committed and not yet transcribed
        self.answering = False
        self.answer_owed = False  # a transcript came with no answer streaming: the server starts one
        self.unanswered = 0  # transcripts that came while an answer streamed
        self.input_judged = False  # the server answered the session.update sent after the last audio
        self.streamed = False  # the current answer printed something
        self._filter = ControlFilter()

    @property
    def idle(self) -> bool:
        return not (
            self.speaking or self.transcribing or self.answering or self.answer_owed or self.unanswered
        )

    def waiting_for(self) -> str:
        if self.transcribing:
            return "a transcript"
        return "the end of an answer" if self.answering else "an answer"

    def answer_again(self) -> bool:
        if not self.unanswered or self.speaking or self.transcribing or self.answering or self.answer_owed:
            return False
        self.unanswered, self.answer_owed = 0, True
        return True

    def show(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "input_audio_buffer.speech_started":
            self.speaking = True
        elif kind == "input_audio_buffer.speech_stopped":
            self.speaking = False
        elif kind == "input_audio_buffer.committed":
            self.transcribing.add(event.get("item_id", ""))
        elif kind == "conversation.item.input_audio_transcription.completed":
            self.transcribing.discard(event.get("item_id", ""))
            self._note(f"heard: {event.get('transcript', '')}")
            if self.answering:
                self.unanswered += 1
            else:
                self.answer_owed = True
        elif kind == "conversation.item.input_audio_transcription.failed":
            self.transcribing.discard(event.get("item_id", ""))
            self._note(f"(nothing heard: {event.get('error', {}).get('message', '')})")
        elif kind == "response.created":
            self.answering, self.answer_owed, self.unanswered, self.streamed = True, False, 0, False
            self._filter.reset()
        elif kind == "response.output_text.delta":
            text = self._filter.feed(event.get("delta", ""))
            self.streamed = self.streamed or bool(text)
            write_stdout(text)
        elif kind == "response.done":
            self._done(event.get("response", {}))
        elif kind == "error":
            error = event.get("error", {})
            print_error(f"{error.get('message', 'the server reported an error')} ({error.get('code')})")
            if error.get("event_id") == ANSWER_AGAIN:
                self.answer_owed = False
        elif kind == "session.updated":
            self.input_judged = True

    def _done(self, response: dict[str, Any]) -> None:
        self.answering = False
        if self.streamed:
            write_stdout("\n")
        if response.get("status") == "cancelled":
            reason = (response.get("status_details") or {}).get("reason", "")
            self._note("[interrupted: you spoke]" if reason == "turn_detected" else "[cancelled]")

    @staticmethod
    def _note(line: str) -> None:
        err_console.print(Text(plain(line), style="dim"), soft_wrap=True)


def _append(pcm: bytes) -> str:
    return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})


def _on_ctrl_c(stop: asyncio.Event) -> None:
    """The first Ctrl-C ends the input (the last answer still comes); the second stops at once."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def interrupted() -> None:
        if stop.is_set() and main is not None:
            main.cancel()
            return
        stop.set()
        err_console.print("\n(input ended: waiting for the last answer; Ctrl-C again to quit)", style="dim")

    with contextlib.suppress(
        NotImplementedError, RuntimeError, ValueError
    ):  # not the main thread: no handler
        loop.add_signal_handler(signal.SIGINT, interrupted)


def _realtime_url(url: str, model: str) -> str:
    parts = urlsplit(url.rstrip("/"))
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise click.BadParameter(
            f"{url!r} is not a server address such as http://127.0.0.1:8000.", param_hint="--url"
        )
    scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
    path = parts.path.removesuffix("/v1")
    return f"{scheme}://{parts.netloc}{path}/v1/realtime?{urlencode({'model': model})}"


async def _connect(url: str, key: str | None) -> ClientConnection:
    """The open socket; a refusal is a ``PonderError`` carrying the server's own message (401, 404, 429)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus, WebSocketException

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        return await connect(url, additional_headers=headers, open_timeout=30, max_size=None)
    except InvalidStatus as err:
        status, body = err.response.status_code, err.response.body or b""
        try:
            message = json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = body.decode(errors="replace").strip() or err.response.reason_phrase
        raise BackendError(f"{url} refused the session ({status}): {message}", status_code=status) from None
    except TimeoutError:  # before OSError, which it is
        raise BackendConnectionError(f"{url} did not open the session in 30 s.") from None
    except OSError as err:  # refused, unreachable, no such host
        raise BackendConnectionError(f"Cannot reach {url}: {err.strerror or err}.") from None
    except WebSocketException as err:
        raise BackendError(f"{url} is not a live-session endpoint: {err}") from None


# --- the in-process server --------------------------------------------------------------------------


@contextlib.contextmanager
def _local_server(obj: CliContext, settings: Settings) -> Iterator[str]:
    """Ponder's app on a free loopback port (uvicorn in a thread) for the session, no key needed; its URL."""
    import uvicorn

    from ponder.server import create_app

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    server_settings = settings.server.model_copy(
        update={"host": "127.0.0.1", "port": port, "allow_local_without_key": True}
    )
    settings = settings.model_copy(update={"server": server_settings})
    progress = AssemblyProgress()
    app = create_app(
        settings,
        model_factory=lambda spec, s: obj.model_factory(spec, s, progress),
        perception=obj.perception,
        embedder=obj.embedder,
    )
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    err_console.print(f"Starting Ponder in-process (model {settings.model})...", style="dim", markup=False)
    thread.start()
    try:
        while not server.started:  # the model loads before it says so (server.warm)
            if not thread.is_alive():
                raise BackendError("The in-process server did not start: see the log above.")
            thread.join(0.05)
        progress.close()
        yield f"http://127.0.0.1:{port}"
    finally:
        progress.close()
        server.should_exit = True
        thread.join(10)
        listener.close()
