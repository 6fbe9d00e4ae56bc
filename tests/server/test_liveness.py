"""One request never stalls the others: the event loop answers while a request waits for the database, a busy
database is a 503 with Retry-After (never a 500), and a chunked body over the limit is a 413 on every route.

A write lock held from another connection (as ``ponder keys revoke`` in another process would) stands in for
a long write: no timing is asserted, only what has happened when."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx

from ponder.testing import ScriptedModel

from .conftest import LiveServer

ASK = {"model": "ponder-instant", "messages": [{"role": "user", "content": "hi"}]}


def auth(server: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.keys['big']}"}


@contextmanager
def write_lock(server: LiveServer, *, limits: bool = True) -> Iterator[None]:
    """SQLite's write lock of the server's database, and of its limiter's file (unless ``limits`` is
    False), held by another connection for the block."""
    state = server.app.state.ponder
    paths = [state.db.path, *([state.limiter.db.path] if limits else [])]
    holders = [sqlite3.connect(path, isolation_level=None) for path in paths]
    for holder in holders:
        holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        for holder in holders:
            holder.execute("ROLLBACK")
            holder.close()


class Entered:
    """The server's own limiter, which also says when a request has come to it."""

    def __init__(self, limiter: Any) -> None:
        self.limiter = limiter
        self.admitting = threading.Event()

    async def admit(self, *args: Any, **kwargs: Any) -> Any:
        self.admitting.set()  # what follows waits for the database's write lock
        return await self.limiter.admit(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.limiter, name)


def test_the_loop_answers_while_a_request_waits_for_the_database(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"), busy_timeout_s=120)
    state = server.app.state.ponder
    state.limiter = watched = Entered(state.limiter)
    with ThreadPoolExecutor(1) as pool, write_lock(server):
        url = server.base_url + "/chat/completions"
        chat = pool.submit(httpx.post, url, json=ASK, headers=auth(server), timeout=60)
        assert watched.admitting.wait(30)
        assert httpx.get(server.url + "/healthz", timeout=30).json() == {"status": "ok"}
        models = httpx.get(server.base_url + "/models", headers={"Authorization": "Bearer pk-wrong"})
        assert models.status_code == 401  # the key's lookup reads: it does not wait for the writer either
        assert not chat.done()  # still waiting for the lock, and the server answered the others
    assert chat.result(60).status_code == 200  # the lock released, the request goes on


def test_a_busy_database_is_503_with_retry_after(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"), busy_timeout_s=0.05)
    with write_lock(server):
        for r in (
            httpx.get(server.base_url + "/models", headers=auth(server)),
            httpx.post(server.base_url + "/chat/completions", json=ASK, headers=auth(server)),
        ):
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "1"
            error = r.json()["error"]
            assert error["code"] == "database_busy" and error["type"] == "service_unavailable"
            assert "busy" in error["message"]
    assert httpx.get(server.base_url + "/models", headers=auth(server)).status_code == 200
    metrics = httpx.get(server.url + "/metrics").text
    assert 'ponder_rejected_requests_total{reason="database_busy"} 2.0' in metrics


def test_admission_does_not_wait_behind_a_long_session_write(start_server) -> None:
    """The limiter writes on every request: in a file of its own, a request is admitted (and /models
    answers) while another account's long session write holds the database's writer."""
    server = start_server(ScriptedModel(default="ok"), busy_timeout_s=0.05)
    state = server.app.state.ponder
    assert state.limiter.db.path != state.db.path
    with write_lock(server, limits=False):
        assert httpx.get(server.base_url + "/models", headers=auth(server)).status_code == 200


def chunks(size: int) -> Iterator[bytes]:
    """A JSON body sent chunked (no Content-Length): the server learns its size only by reading it."""
    yield b'{"text": "'
    for _ in range(size // 1024):
        yield b"x" * 1024
    yield b'"}'


def test_a_chunked_body_over_the_limit_is_413_on_every_route(start_server) -> None:
    server = start_server(max_body_bytes=16 * 1024, max_small_body_bytes=4 * 1024)
    headers = {**auth(server), "Content-Type": "application/json"}
    for path, size in [
        ("/memories", 8 * 1024),  # FastAPI parses this body itself
        ("/actions/act_1/confirm", 8 * 1024),
        ("/chat/completions", 32 * 1024),  # this one is read by the handler
    ]:
        r = httpx.post(server.base_url + path, content=chunks(size), headers=headers)
        assert r.status_code == 413, (path, r.text)
        assert r.json()["error"]["code"] == "body_too_large"
        assert "the most this route takes" in r.json()["error"]["message"]


def test_small_routes_take_small_bodies_and_chat_takes_media(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"))
    padding = {"text": "x", "topic": "other", "slot": "y" * (300 * 1024)}
    r = httpx.post(server.base_url + "/memories", json=padding, headers=auth(server))
    assert r.status_code == 413 and "256 KiB" in r.json()["error"]["message"]
    long = {**ASK, "messages": [{"role": "user", "content": "word " * (100 * 1024)}]}
    r = httpx.post(server.base_url + "/chat/completions", json=long, headers=auth(server), timeout=60)
    assert r.status_code == 200, r.text
