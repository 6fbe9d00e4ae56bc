"""The round-robin proxy in front of two real upstream processes (the fake engine): requests alternate, an
upstream that refuses connections is skipped, and a streamed answer passes through as it comes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ponder.testing.cluster import EngineClient, fake_engine, free_port, round_robin

BODY = {"model": "fake-engine", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[list[EngineClient]]:
    with fake_engine(tmp_path / "a", tokens=3) as a, fake_engine(tmp_path / "b", tokens=3) as b:
        yield [a, b]


def test_requests_alternate_between_upstreams(engines: list[EngineClient], tmp_path: Path) -> None:
    with round_robin(tmp_path, [e.url for e in engines]) as proxy:
        answers = [httpx.post(proxy.url + "/v1/chat/completions", json=BODY, timeout=30) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.headers["x-upstream"] for a in answers}) == 2
    assert [len(e.requests()) for e in engines] == [2, 2]


def test_an_upstream_refusing_connections_is_skipped(engines: list[EngineClient], tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with round_robin(tmp_path, [closed, engines[0].url]) as proxy:
        answers = [httpx.post(proxy.url + "/v1/chat/completions", json=BODY, timeout=30) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert {a.headers["x-upstream"] for a in answers} == {"1"}


def test_a_stream_passes_through(engines: list[EngineClient], tmp_path: Path) -> None:
    with round_robin(tmp_path, [engines[0].url]) as proxy:
        body = {**BODY, "stream": True}
        with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, timeout=30) as answer:
            lines = [line for line in answer.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    words = [
        c["choices"][0]["delta"].get("content", "")
        for c in (json.loads(line[6:]) for line in lines[:-1])
        if c["choices"]
    ]
    assert "".join(words) == "word0 word1 word2"
