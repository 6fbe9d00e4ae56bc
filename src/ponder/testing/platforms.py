"""Fake messaging-platform APIs on loopback, for testing channel adapters without the real services.

    FakeGraphAPI        Meta's Graph API as two products use it:
                          POST /{version}/{phone_number_id}/messages   WhatsApp Cloud API send, mark as read
                          GET  /{version}/{media_id}, then its url     WhatsApp media download (two steps)
                          POST /{version}/me/messages                  Messenger Send API
    FakeBotAPI          the Telegram Bot API: /bot<token>/<method> for sendMessage, sendChatAction,
                        answerCallbackQuery, setWebhook and getFile; /file/bot<token>/<file_path>
    Recorded            one request a fake received
    graph_error_body    the Graph API's error body for an error code (130429, 131047, 131056, 80007, ...)
    whatsapp_signature  the X-Hub-Signature-256 value Meta signs a webhook POST with (Messenger's as well)

Each fake is a FastAPI app served by uvicorn in a background thread on 127.0.0.1, on a port the OS picks:
``with FakeGraphAPI(token="t") as graph:`` starts and stops it, and ``graph.base_url`` is where to point a
client. A fake answers with the bodies the platforms document (tests/channels/fixtures holds copies, with
their sources), checks the token it was given, records every request in order (``sent``, ``wait_for``),
fails the next n send calls on demand with the platform's own error body (``fail_next``) and can answer
slowly (``delay_s``). Like the platforms, it rejects a request that lacks a required field or passes one
of the documented size limits below.

Deliberately not here: webhooks *into* an adapter (a test posts a fixture itself, signed with
``whatsapp_signature``), uploads, templates' contents, groups, and any model of the platforms' rate
limits: a fake fails only when told to. Note that the real Graph API answers its rate-limit codes (130429,
131056, 80007) with HTTP 400, not 429; ``fail_next`` sends whatever status it is given.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import secrets
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

__all__ = [
    "MESSENGER_QUICK_REPLIES_MAX",
    "MESSENGER_QUICK_REPLY_TITLE_MAX",
    "MESSENGER_TEXT_MAX",
    "TELEGRAM_CALLBACK_DATA_MAX_BYTES",
    "TELEGRAM_TEXT_MAX",
    "WHATSAPP_BUTTONS_MAX",
    "WHATSAPP_BUTTON_BODY_MAX",
    "WHATSAPP_BUTTON_TITLE_MAX",
    "WHATSAPP_LIST_ROWS_MAX",
    "WHATSAPP_LIST_ROW_TITLE_MAX",
    "WHATSAPP_TEXT_MAX",
    "FakeBotAPI",
    "FakeGraphAPI",
    "Recorded",
    "graph_error_body",
    "whatsapp_signature",
]

# The documented limits the fakes enforce (the pages are in tests/channels/fixtures/SOURCES.md).
WHATSAPP_TEXT_MAX = 4096  # text.body; also an interactive list's body.text
WHATSAPP_BUTTON_BODY_MAX = 1024  # an interactive reply-buttons message's body.text
WHATSAPP_BUTTONS_MAX = 3
WHATSAPP_BUTTON_TITLE_MAX = 20
WHATSAPP_LIST_ROWS_MAX = 10  # rows of all sections together
WHATSAPP_LIST_ROW_TITLE_MAX = 24
MESSENGER_TEXT_MAX = 2000
MESSENGER_QUICK_REPLIES_MAX = 13
MESSENGER_QUICK_REPLY_TITLE_MAX = 20
TELEGRAM_TEXT_MAX = 4096  # sendMessage text, after entities parsing
TELEGRAM_CALLBACK_DATA_MAX_BYTES = 64

_WHATSAPP_TYPES = ("text", "interactive", "template", "image", "audio")
_SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen")

# Graph API code -> (title, details), as the Cloud API error-codes page words them. The message of an
# error is "(#<code>) <title>"; only 130429's documented sample still carries an error_subcode (deprecated
# since v16.0).
_GRAPH_ERRORS: dict[int, tuple[str, str]] = {
    1: ("API Unknown", "Invalid request or possible server error."),
    2: ("API Service", "Temporary due to downtime or due to being overloaded."),
    4: ("API Too Many Calls", "The app has reached its API call rate limit."),
    100: ("Invalid parameter", "The request included one or more unsupported or misspelled parameters."),
    190: ("Access token has expired", "Your access token has expired."),
    80007: ("Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    131047: (
        "Re-engagement message",
        "More than 24 hours have passed since the recipient last replied to the sender number.",
    ),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone number in a "
        "short period of time.",
    ),
}
_GRAPH_SUBCODES = {130429: 2494055}


def graph_error_body(code: int, details: str | None = None, *, whatsapp: bool = True) -> dict[str, Any]:
    """The Graph API's error body for ``code``: as the WhatsApp Cloud API sends it, or, with
    ``whatsapp=False``, as the Messenger Send API does (no ``error_data``). ``details`` replaces the
    documented description (a code not in the table needs one)."""
    title, documented = _GRAPH_ERRORS.get(code, ("Error", ""))
    if whatsapp:
        error: dict[str, Any] = {"message": f"(#{code}) {title}", "type": "OAuthException", "code": code}
        error["error_data"] = {"messaging_product": "whatsapp", "details": details or documented}
    else:  # Messenger puts the detail in the message
        error = {"message": f"(#{code}) {details or title}", "type": "OAuthException", "code": code}
    if code in _GRAPH_SUBCODES:
        error["error_subcode"] = _GRAPH_SUBCODES[code]
    error["fbtrace_id"] = secrets.token_urlsafe(17)
    return {"error": error}


def whatsapp_signature(app_secret: str, raw_body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value Meta sends with a webhook POST: ``sha256=`` and the hex
    HMAC-SHA256 of the raw body, keyed with the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """One request a fake received (failed and refused ones too), in arrival order."""

    method: str
    path: str
    json: Any  # the body parsed (JSON, or a form as a dict), the text if it did not parse, None if empty
    headers: dict[str, str]  # names lower-case
    query: dict[str, str]


@dataclass(frozen=True)
class _Failure:
    status: int
    body: dict[str, Any] | None  # None: the platform's own error body for the status
    retry_after: int | None


class _Server(uvicorn.Server):
    """uvicorn that says when its startup is over, listening or not."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


class _LoopbackPlatform(ABC):
    """What both fakes share: the server thread, the record of requests, failures on demand, the delay."""

    def __init__(self, token: str, *, delay_s: float = 0.0) -> None:
        self.token = token
        self.delay_s = delay_s  # seconds every answer waits; may be changed while running
        self._sent: list[Recorded] = []
        self._failures: deque[_Failure] = deque()
        self._changed = threading.Condition()
        self._running: tuple[_Server, threading.Thread, socket.socket] | None = None

    @abstractmethod
    def _add_routes(self, app: FastAPI) -> None: ...

    @abstractmethod
    def _error_body(self, failure: _Failure, path: str) -> dict[str, Any]:
        """The platform's error body for a ``fail_next`` failure given no body."""

    def start(self) -> Self:
        if self._running is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        self._add_routes(app)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app,
            loop="asyncio",  # not uvloop: its setup would change the event loop policy of the whole process
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        if not server.ready.wait(10) or not server.started:
            server.should_exit = True
            listener.close()
            raise RuntimeError(f"{type(self).__name__} did not start")
        self._running = (server, thread, listener)
        return self

    def stop(self) -> None:
        if self._running is None:
            return
        server, thread, listener = self._running
        server.should_exit = True
        thread.join(10)
        listener.close()
        self._running = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, while running."""
        if self._running is None:
            raise RuntimeError(f"{type(self).__name__} is not running: use start() or a with block")
        return f"http://127.0.0.1:{self._running[2].getsockname()[1]}"

    @property
    def sent(self) -> list[Recorded]:
        """Every request received so far, oldest first (a copy)."""
        with self._changed:
            return list(self._sent)

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Recorded]:
        """Block until at least ``count`` requests have arrived (a client sending from another task or
        thread), then return them all; TimeoutError after ``timeout_s``."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._sent) >= count, timeout_s):
                raise TimeoutError(f"{len(self._sent)} requests arrived, not {count}, in {timeout_s} s")
            return list(self._sent)

    def fail_next(
        self, n: int, status: int, body: dict[str, Any] | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next ``n`` send calls with HTTP ``status`` and ``body`` (by default the platform's own
        error body for that status). ``retry_after`` also sets a ``Retry-After`` header, and for Telegram
        ``parameters.retry_after``."""
        if n < 1 or not 400 <= status <= 599:
            raise ValueError("fail_next needs n >= 1 and an error status (400-599)")
        with self._changed:
            self._failures.extend([_Failure(status, body, retry_after)] * n)

    async def _begin(self, request: Request) -> Recorded:
        """Record the request and wait out ``delay_s``: every handler starts here."""
        raw = await request.body()
        recorded = Recorded(
            request.method,
            request.url.path,
            _parse_body(raw, request.headers.get("content-type", "")),
            dict(request.headers),
            dict(request.query_params),
        )
        with self._changed:
            self._sent.append(recorded)
            self._changed.notify_all()
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        return recorded

    def _take_failure(self, path: str) -> JSONResponse | None:
        with self._changed:
            if not self._failures:
                return None
            failure = self._failures.popleft()
        body = failure.body if failure.body is not None else self._error_body(failure, path)
        headers = None if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
        return JSONResponse(body, failure.status, headers=headers)


class FakeGraphAPI(_LoopbackPlatform):
    """Meta's Graph API as the WhatsApp Cloud API and the Messenger Send API use it.

    A client authenticates with ``token`` (``Authorization: Bearer``, or Messenger's ``access_token``
    query parameter). ``add_media`` registers a file for WhatsApp's media download: ``GET
    /{version}/{media_id}`` answers its URL on this server, and a GET of that URL with the token answers
    the bytes. ``fail_next`` applies to the two send endpoints.
    """

    def __init__(self, token: str, *, delay_s: float = 0.0) -> None:
        super().__init__(token, delay_s=delay_s)
        self._media: dict[str, tuple[bytes, str]] = {}  # media id -> (bytes, MIME type)

    def add_media(self, media_id: str, data: bytes, mime_type: str) -> None:
        self._media[media_id] = (data, mime_type)

    def media_url(self, media_id: str) -> str:
        """Where this fake serves a media file (Meta's real URLs are on lookaside.fbsbx.com)."""
        return f"{self.base_url}/whatsapp_business/attachments/?mid={media_id}"

    def _add_routes(self, app: FastAPI) -> None:
        # In this order: a literal path must match before the parameters would take it.
        for path, endpoint, method in (
            ("/whatsapp_business/attachments/", self._download, "GET"),
            ("/{version}/me/messages", self._messenger_send, "POST"),
            ("/{version}/{phone_number_id}/messages", self._whatsapp_send, "POST"),
            ("/{version}/{media_id}", self._media_info, "GET"),
        ):
            app.add_api_route(path, endpoint, methods=[method], response_model=None, include_in_schema=False)

    def _error_body(self, failure: _Failure, path: str) -> dict[str, Any]:
        status = failure.status
        code = 130429 if status == 429 else 190 if status == 401 else 2 if status >= 500 else 100
        return graph_error_body(code, whatsapp=not path.endswith("/me/messages"))

    def _authorized(self, request: Request) -> bool:
        return (
            request.headers.get("authorization") == f"Bearer {self.token}"
            or request.query_params.get("access_token") == self.token
        )

    async def _whatsapp_send(self, request: Request) -> Response:
        recorded = await self._begin(request)
        if not self._authorized(request):
            return JSONResponse(graph_error_body(190), 401)
        if (failure := self._take_failure(recorded.path)) is not None:
            return failure
        body = recorded.json
        if (problem := _whatsapp_problem(body)) is not None:
            return JSONResponse(graph_error_body(100, problem), 400)
        if body.get("status") == "read":  # mark as read (with or without a typing indicator)
            return JSONResponse({"success": True})
        wamid = "wamid." + secrets.token_urlsafe(36)
        contact = {"input": body["to"], "wa_id": re.sub(r"\D", "", body["to"])}
        return JSONResponse(
            {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}
        )

    async def _messenger_send(self, request: Request) -> Response:
        recorded = await self._begin(request)
        if not self._authorized(request):
            return JSONResponse(graph_error_body(190, whatsapp=False), 401)
        if (failure := self._take_failure(recorded.path)) is not None:
            return failure
        body = recorded.json
        if (problem := _messenger_problem(body)) is not None:
            return JSONResponse(graph_error_body(100, problem, whatsapp=False), 400)
        answer = {"recipient_id": body["recipient"]["id"]}
        if "message" in body:
            answer["message_id"] = "m_" + secrets.token_urlsafe(48)
        return JSONResponse(answer)

    async def _media_info(self, request: Request) -> Response:
        await self._begin(request)
        if not self._authorized(request):
            return JSONResponse(graph_error_body(190), 401)
        media_id = request.path_params["media_id"]
        if media_id not in self._media:
            details = f"Unsupported get request. Object with ID '{media_id}' does not exist."
            return JSONResponse(graph_error_body(100, details), 400)
        data, mime_type = self._media[media_id]
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": self.media_url(media_id),
                "mime_type": mime_type,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "id": media_id,
            }
        )

    async def _download(self, request: Request) -> Response:
        await self._begin(request)
        if not self._authorized(request):
            return JSONResponse(graph_error_body(190), 401)
        media = self._media.get(request.query_params.get("mid", ""))
        if media is None:
            return Response(status_code=404)
        return Response(media[0], media_type=media[1])


class FakeBotAPI(_LoopbackPlatform):
    """The Telegram Bot API for one bot, whose ``token`` is part of every path.

    Parameters may come as JSON, a form or the query string (``reply_markup`` as an object or as its JSON
    text); method names are case-insensitive, as Telegram's are. ``sendMessage`` answers the sent Message
    with an incrementing ``message_id``; ``setWebhook`` keeps ``webhook_url`` and ``webhook_secret_token``;
    ``add_file`` registers what ``getFile`` and the download URL serve. ``fail_next`` applies to the
    ``send*`` methods.
    """

    def __init__(
        self, token: str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", *, delay_s: float = 0.0
    ) -> None:
        super().__init__(token, delay_s=delay_s)
        bot_id = token.split(":", 1)[0]
        self.bot_user: dict[str, Any] = {
            "id": int(bot_id) if bot_id.isdigit() else 123456,
            "is_bot": True,
            "first_name": "Test Bot",
            "username": "test_bot",
        }
        self.webhook_url: str | None = None
        self.webhook_secret_token: str | None = None
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self._message_ids = itertools.count(1)
        self._methods = {
            "sendmessage": self._send_message,
            "sendchataction": self._send_chat_action,
            "answercallbackquery": self._answer_callback_query,
            "setwebhook": self._set_webhook,
            "getfile": self._get_file,
        }

    def add_file(self, file_id: str, data: bytes, file_path: str | None = None) -> None:
        self._files[file_id] = (file_path or f"documents/file_{len(self._files)}", data)

    def file_url(self, file_path: str) -> str:
        return f"{self.base_url}/file/bot{self.token}/{file_path}"

    def _add_routes(self, app: FastAPI) -> None:
        app.add_api_route(
            "/file/bot{token}/{file_path:path}",
            self._download,
            methods=["GET"],
            response_model=None,
            include_in_schema=False,
        )
        app.add_api_route(
            "/bot{token}/{method}",
            self._call,
            methods=["GET", "POST"],
            response_model=None,
            include_in_schema=False,
        )

    def _error_body(self, failure: _Failure, path: str) -> dict[str, Any]:
        retry_after = failure.retry_after
        if failure.status == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = f"Too Many Requests: retry after {retry_after}"
        elif failure.status == 403:
            description = "Forbidden: bot was blocked by the user"
        else:
            statuses = {s.value: s.phrase for s in HTTPStatus}
            description = statuses.get(failure.status, "Error")
        return _telegram_error(failure.status, description, retry_after)

    async def _call(self, request: Request) -> Response:
        recorded = await self._begin(request)
        if request.path_params["token"] != self.token:
            return JSONResponse(_telegram_error(401, "Unauthorized"), 401)
        method = request.path_params["method"].lower()
        if method not in self._methods:
            return JSONResponse(_telegram_error(404, "Not Found"), 404)
        if method.startswith("send") and (failure := self._take_failure(recorded.path)) is not None:
            return failure
        params: dict[str, Any] = dict(recorded.query)
        if isinstance(recorded.json, dict):
            params.update(recorded.json)
        result = self._methods[method](params)
        if isinstance(result, str):  # a Bad Request description
            return JSONResponse(_telegram_error(400, result), 400)
        return JSONResponse({"ok": True, "result": result})

    def _send_message(self, params: dict[str, Any]) -> Any:
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id in (None, ""):
            return "Bad Request: chat_id is empty"
        if not isinstance(text, str) or not text:
            return "Bad Request: message text is empty"
        if len(text) > TELEGRAM_TEXT_MAX:
            return "Bad Request: message is too long"
        if params.get("parse_mode") not in (None, "MarkdownV2", "HTML", "Markdown"):
            return f'Bad Request: unsupported parse_mode "{params["parse_mode"]}"'
        if not str(chat_id).lstrip("-").isdigit():
            return "Bad Request: chat not found"
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = _json_or_none(markup)
        if "reply_markup" in params and (problem := _inline_keyboard_problem(markup)) is not None:
            return problem
        message = {
            "message_id": next(self._message_ids),
            "from": self.bot_user,
            "chat": {"id": int(chat_id), "type": "private"},
            "date": int(time.time()),
            "text": text,
        }
        if isinstance(markup, dict) and "inline_keyboard" in markup:  # the only kind a Message carries
            message["reply_markup"] = markup
        return message

    def _send_chat_action(self, params: dict[str, Any]) -> Any:
        if params.get("chat_id") in (None, ""):
            return "Bad Request: chat_id is empty"
        return True if params.get("action") else "Bad Request: action is empty"

    def _answer_callback_query(self, params: dict[str, Any]) -> Any:
        if not params.get("callback_query_id"):
            return "Bad Request: query is too old and response timeout expired or query ID is invalid"
        return True

    def _set_webhook(self, params: dict[str, Any]) -> Any:
        url, secret = params.get("url"), params.get("secret_token")
        if not isinstance(url, str):
            return 'Bad Request: parameter "url" is required'
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            return "Bad Request: secret token contains unallowed characters"
        self.webhook_url, self.webhook_secret_token = url or None, secret if url else None
        return True

    def _get_file(self, params: dict[str, Any]) -> Any:
        file_id = params.get("file_id")
        if file_id not in self._files:
            return "Bad Request: invalid file_id"
        file_path, data = self._files[file_id]
        unique_id = hashlib.sha256(file_id.encode()).hexdigest()[:16]
        return {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "file_size": len(data),
            "file_path": file_path,
        }

    async def _download(self, request: Request) -> Response:
        await self._begin(request)
        if request.path_params["token"] != self.token:
            return JSONResponse(_telegram_error(401, "Unauthorized"), 401)
        for file_path, data in self._files.values():
            if file_path == request.path_params["file_path"]:
                return Response(data, media_type="application/octet-stream")
        return JSONResponse(_telegram_error(404, "Not Found"), 404)


def _whatsapp_problem(body: Any) -> str | None:
    """Why the Cloud API would refuse this POST /messages body, or None."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if body.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp."
    if body.get("status") == "read":
        return None if isinstance(body.get("message_id"), str) else "message_id is required."
    if not isinstance(body.get("to"), str) or not body["to"]:
        return "to is required."
    kind = body.get("type", "text")  # the API's default
    if kind not in _WHATSAPP_TYPES:
        return f"type must be one of {', '.join(_WHATSAPP_TYPES)}."
    content = body.get(kind)
    if not isinstance(content, dict):
        return f"The {kind} object is required."
    if kind == "text":
        text = content.get("body")
        if not isinstance(text, str) or not text or len(text) > WHATSAPP_TEXT_MAX:
            return f"text.body must be 1-{WHATSAPP_TEXT_MAX} characters."
    elif kind == "interactive":
        return _interactive_problem(content)
    elif kind == "template":
        if not content.get("name") or not isinstance(content.get("language"), dict):
            return "template needs a name and a language."
    elif ("id" in content) == ("link" in content):
        return f"{kind} needs exactly one of id and link."
    return None


def _interactive_problem(content: dict[str, Any]) -> str | None:
    """The limits of reply-buttons and list messages (other interactive types are not checked)."""
    kind, action = content.get("type"), content.get("action")
    text = content.get("body", {}).get("text") if isinstance(content.get("body"), dict) else None
    if kind not in ("button", "list"):
        return None
    if not isinstance(action, dict) or not isinstance(text, str) or not text:
        return "interactive needs body.text and action."
    if kind == "button":
        buttons = action.get("buttons")
        if len(text) > WHATSAPP_BUTTON_BODY_MAX:
            return f"body.text must be at most {WHATSAPP_BUTTON_BODY_MAX} characters."
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= WHATSAPP_BUTTONS_MAX:
            return f"action.buttons must hold 1-{WHATSAPP_BUTTONS_MAX} buttons."
        titles = [b.get("reply", {}).get("title") if isinstance(b, dict) else None for b in buttons]
        if not all(isinstance(t, str) and 1 <= len(t) <= WHATSAPP_BUTTON_TITLE_MAX for t in titles):
            return f"Each button title must be 1-{WHATSAPP_BUTTON_TITLE_MAX} characters."
        return None
    sections = action.get("sections")
    if len(text) > WHATSAPP_TEXT_MAX:
        return f"body.text must be at most {WHATSAPP_TEXT_MAX} characters."
    if not isinstance(sections, list) or not sections or not isinstance(action.get("button"), str):
        return "action needs a button and sections."
    rows = [
        row for s in sections if isinstance(s, dict) for row in s.get("rows", []) if isinstance(row, dict)
    ]
    if not 1 <= len(rows) <= WHATSAPP_LIST_ROWS_MAX:
        return f"A list must hold 1-{WHATSAPP_LIST_ROWS_MAX} rows in all."
    if not all(isinstance(r.get("id"), str) for r in rows) or not all(
        isinstance(r.get("title"), str) and 1 <= len(r["title"]) <= WHATSAPP_LIST_ROW_TITLE_MAX for r in rows
    ):
        return f"Each row needs an id and a title of 1-{WHATSAPP_LIST_ROW_TITLE_MAX} characters."
    return None


def _messenger_problem(body: Any) -> str | None:
    """Why the Send API would refuse this POST /me/messages body, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("recipient"), dict):
        return "recipient is required."
    if not isinstance(body["recipient"].get("id"), str):
        return "recipient.id is required."
    if ("message" in body) == ("sender_action" in body):
        return "Send exactly one of message and sender_action."
    if "sender_action" in body:
        return None if body["sender_action"] in _SENDER_ACTIONS else "Unknown sender_action."
    message = body["message"]
    if not isinstance(message, dict) or ("text" in message) == ("attachment" in message):
        return "message needs exactly one of text and attachment."
    if "text" in message and not (
        isinstance(message["text"], str) and 0 < len(message["text"]) <= MESSENGER_TEXT_MAX
    ):
        return f"message.text must be 1-{MESSENGER_TEXT_MAX} characters."
    replies = message.get("quick_replies", [])
    if not isinstance(replies, list) or len(replies) > MESSENGER_QUICK_REPLIES_MAX:
        return f"At most {MESSENGER_QUICK_REPLIES_MAX} quick replies."
    for reply in replies:
        if not isinstance(reply, dict) or reply.get("content_type") != "text":
            continue  # user_phone_number, user_email: no title
        title = reply.get("title")
        if not isinstance(title, str) or not 0 < len(title) <= MESSENGER_QUICK_REPLY_TITLE_MAX:
            return f"A quick reply title must be 1-{MESSENGER_QUICK_REPLY_TITLE_MAX} characters."
        if "payload" not in reply:
            return "A text quick reply needs a payload."
    return None


def _inline_keyboard_problem(markup: Any) -> str | None:
    """Check an InlineKeyboardMarkup (other reply_markup kinds pass unchecked)."""
    if not isinstance(markup, dict):
        return "Bad Request: can't parse reply keyboard markup JSON object"
    rows = markup.get("inline_keyboard")
    if rows is None:
        return None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return 'Bad Request: field "inline_keyboard" must be an Array of Arrays'
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            return "Bad Request: can't parse inline keyboard button: Text buttons are unallowed"
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= TELEGRAM_CALLBACK_DATA_MAX_BYTES:
            return "Bad Request: BUTTON_DATA_INVALID"
    return None


def _telegram_error(status: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
    parsed = _json_or_none(raw)
    return parsed if parsed is not None else raw.decode(errors="replace")


def _json_or_none(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
