"""Keys, accounts and limits: 401 without a key, 429 with Retry-After, prices per mode, local no-key mode."""

from __future__ import annotations

import json
import threading

import httpx

from ponder.store.database import sql
from ponder.testing import ScriptedModel

from .conftest import LiveServer

ASK = {"model": "ponder-instant", "messages": [{"role": "user", "content": "hi"}]}


def post(server: LiveServer, key: str | None, body: dict = ASK) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(server.base_url + "/chat/completions", json=body, headers=headers)


def test_missing_bad_and_revoked_keys_are_401(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"))
    assert post(server, None).status_code == 401
    r = post(server, "pk-not-a-real-key")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(server.base_url + "/models").status_code == 401
    from ponder.store import KeyStore

    store = KeyStore(server.app.state.ponder.db)
    key, secret = store.create("acme", "big")
    assert post(server, secret).status_code == 200
    store.revoke(key.id)
    assert post(server, secret).status_code == 401


def test_keys_are_stored_only_as_hashes(start_server) -> None:
    server = start_server()
    db = server.app.state.ponder.db
    with db.reading() as c:
        dump = "\n".join(str(row) for row in c.execute(sql("SELECT * FROM api_keys")))
    for secret in server.keys.values():
        assert secret not in dump


def test_a_burst_of_twice_the_limit_accepts_exactly_the_limit(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"))
    statuses = [post(server, server.keys["free"]) for _ in range(10)]  # the free tier here: 5 per minute
    assert [r.status_code for r in statuses].count(200) == 5
    refused = [r for r in statuses if r.status_code == 429]
    assert len(refused) == 5
    for r in refused:
        assert int(r.headers["Retry-After"]) >= 1
        assert r.headers["x-ratelimit-remaining-requests"] == "0"
        assert r.json()["error"]["type"] == "rate_limit_error"


def test_failed_requests_count_toward_the_limit(start_server) -> None:
    server = start_server()
    bad = {"model": "ponder-instant", "messages": []}
    codes = [post(server, server.keys["free"], bad).status_code for _ in range(7)]
    assert codes == [400] * 5 + [429] * 2


def test_contemplating_costs_more_than_instant(start_server) -> None:
    server = start_server(ScriptedModel(default="The answer is 1."))
    body = {**ASK, "model": "ponder-contemplating", "agents": 2}
    first = post(server, server.keys["free"], body)  # costs 4 of the 5 per minute
    assert first.status_code == 200
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert post(server, server.keys["free"], body).status_code == 429
    assert post(server, server.keys["free"]).status_code == 200  # one instant request is left


def test_daily_tokens(start_server) -> None:
    server = start_server(ScriptedModel(default="a b c d e f g h i j k l"))
    assert post(server, server.keys["tiny_tokens"]).status_code == 200  # spends more than the 10 a day
    r = post(server, server.keys["tiny_tokens"])
    assert r.status_code == 429 and r.json()["error"]["code"] == "tokens_exceeded"
    assert int(r.headers["Retry-After"]) >= 1


def test_local_mode_without_a_key(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"), allow_local_without_key=True)
    assert post(server, None).status_code == 200
    assert post(server, "pk-wrong").status_code == 401  # a Ponder key that is given must be valid
    assert post(server, "sk-whatever-the-client-sends").status_code == 200  # not a Ponder key: no key


def test_request_id_and_metrics(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"))
    r = httpx.post(
        server.base_url + "/chat/completions",
        json=ASK,
        headers={"Authorization": f"Bearer {server.keys['big']}", "X-Request-Id": "abc-123"},
    )
    assert r.headers["x-request-id"] == "abc-123"
    assert len(post(server, server.keys["big"]).headers["x-request-id"]) == 32
    metrics = httpx.get(server.url + "/metrics").text
    assert 'ponder_http_requests_total{path="/v1/chat/completions",status="200"} 2.0' in metrics
    assert 'ponder_turns_total{mode="instant",outcome="ok"} 2.0' in metrics
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}


def test_body_size_limit(start_server) -> None:
    server = start_server(max_body_bytes=2048)
    big = {**ASK, "messages": [{"role": "user", "content": "x" * 5000}]}
    r = post(server, server.keys["big"], big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_busy_server_is_503(start_server) -> None:
    # The only turn slot is held while the first answer streams slowly.
    server = start_server(ScriptedModel([["slow", " answer"]], delay_s=1.0), max_concurrent_turns=1)
    first: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: first.append(post(server, server.keys["big"])))
    thread.start()
    state = server.app.state.ponder
    for _ in range(500):
        if state.turns_in_flight:
            break
        threading.Event().wait(0.01)
    r = post(server, server.keys["big"])
    thread.join(10)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert first[0].status_code == 200


def test_limits_in_redis_are_shared_by_two_servers(start_server, redis_url: str) -> None:
    one = start_server(ScriptedModel(default="ok"), redis_url=redis_url)
    two = start_server(ScriptedModel(default="ok"), redis_url=redis_url)
    # Both servers know the same key id (one database each here; in production they share PostgreSQL).
    from ponder.store import KeyStore

    key, secret = KeyStore(one.app.state.ponder.db).create("acme", "free")
    other = two.app.state.ponder.db
    from ponder.store.keys import hash_secret

    with other.transaction() as c:
        c.execute(
            sql(
                "INSERT INTO api_keys (id, account, tier, secret_sha256, prefix, name, created_at) "
                "VALUES (:id, :account, :tier, :sha, :prefix, '', :at)"
            ),
            {"id": key.id, "account": key.account, "tier": key.tier, "sha": hash_secret(secret)}
            | {"prefix": key.prefix, "at": key.created_at},
        )
    codes = [post(server, secret).status_code for server in (one, two) * 5]  # free here: 5 a minute
    assert codes.count(200) == 5 and codes.count(429) == 5


def test_a_turn_over_the_time_limit_is_504(start_server) -> None:
    server = start_server(ScriptedModel([["slow"] * 50], delay_s=0.1), turn_timeout_s=0.3)
    r = post(server, server.keys["big"])
    assert r.status_code == 504 and r.json()["error"]["code"] == "turn_timeout"
    assert server.app.state.ponder.turns_in_flight == 0


def charged(server: LiveServer, key: str, at_least: int = 1) -> int:
    """The tokens the key's day has been charged, once at least ``at_least`` are (10 s at most)."""
    from ponder.store.keys import KeyStore

    key_id = KeyStore(server.app.state.ponder.db).authenticate(key).id  # type: ignore[union-attr]
    wait = threading.Event()
    for _ in range(1000):
        with server.app.state.ponder.limiter.db.reading() as c:  # the limiter's own file
            tokens = c.execute(
                sql("SELECT COALESCE(SUM(tokens), 0) FROM token_usage WHERE key_id = :k"), {"k": key_id}
            ).scalar()
        if tokens >= at_least:
            return int(tokens)
        wait.wait(0.01)
    return int(tokens)


def test_a_stream_closed_early_is_charged_what_it_generated(start_server) -> None:
    server = start_server(ScriptedModel([["word "] * 200], delay_s=0.02))
    key = server.keys["big"]
    received = 0
    body = {**ASK, "stream": True}
    with httpx.stream(
        "POST", server.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as r:
        for line in r.iter_lines():
            received += '"content": "word "' in line
            if received == 5:
                break
    tokens = charged(server, key, at_least=5)
    assert 5 <= tokens < 200  # what was streamed (and the prompt), not the whole answer, and not 0


def test_a_cancelled_request_is_charged(start_server) -> None:
    import socket

    server = start_server(ScriptedModel([["word "] * 500], delay_s=0.02))
    key = server.keys["big"]
    body = json.dumps({**ASK, "messages": [{"role": "user", "content": "tell me a long story " * 10}]})
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
        )
        started = threading.Event()
        for _ in range(1000):  # the turn runs: the model was called
            if server.model.calls:
                break
            started.wait(0.01)
        assert server.model.calls
    # The connection is closed mid-answer: the turn is cancelled, and what it spent is charged.
    assert charged(server, key) > 0


def test_max_tokens_is_capped_by_what_the_day_has_left(start_server) -> None:
    server = start_server(ScriptedModel(default="a b c d e f g h i j k l"))
    key = server.keys["tiny_tokens"]  # 10 tokens a day
    r = post(server, key, {**ASK, "max_tokens": 500})
    assert r.status_code == 200
    assert server.model.calls[0].settings.max_tokens == 10
    r = post(server, key, {**ASK, "max_tokens": 500})
    assert r.status_code == 429 and r.json()["error"]["code"] == "tokens_exceeded"
    assert len(server.model.calls) == 1


def test_thinking_passes_are_capped_by_the_day_too(start_server) -> None:
    server = start_server(ScriptedModel(default="a b c"))
    r = post(server, server.keys["tiny_tokens"], {**ASK, "model": "ponder-thinking", "max_tokens": 500})
    assert r.status_code == 200
    assert all(call.settings.max_tokens <= 10 for call in server.model.calls)


def test_one_key_cannot_take_every_turn_slot(start_server) -> None:
    from ponder.store import KeyStore

    model = ScriptedModel([["slow "] * 500], delay_s=0.02, default="ok")
    server = start_server(model, max_concurrent_turns=2)
    other = KeyStore(server.app.state.ponder.db).create("another-account", "big")[1]
    key = server.keys["big"]
    with httpx.stream(
        "POST",
        server.base_url + "/chat/completions",
        json={**ASK, "stream": True},
        headers={"Authorization": f"Bearer {key}"},
    ) as streaming:
        lines = streaming.iter_lines()  # kept: dropping the iterator would close the stream
        next(lines)  # the stream has started: it holds one of the two slots
        assert server.app.state.ponder.turns_in_flight == 1
        same = post(server, key)
        assert same.status_code == 429 and same.json()["error"]["code"] == "too_many_turns"
        assert same.headers["Retry-After"] == "1"
        assert post(server, other).status_code == 200  # the other account still finds a slot
    state, ended = server.app.state.ponder, threading.Event()
    for _ in range(1000):  # the closed stream gives its slot back
        if not state.turns_in_flight:
            break
        ended.wait(0.01)
    assert post(server, key).status_code == 200


def test_more_sub_agents_cost_more_requests(start_server) -> None:
    server = start_server(ScriptedModel(default="The answer is 1."))
    key = server.keys["dozen"]  # 12 requests a minute
    body = {**ASK, "model": "ponder-contemplating", "agents": 8}
    first = post(server, key, body)  # twice the 4 agents the price includes: twice the price, 8
    assert first.status_code == 200 and int(first.headers["x-ratelimit-remaining-requests"]) <= 5
    again = post(server, key, body)
    assert again.status_code == 429 and again.json()["error"]["code"] == "rate_limit_exceeded"
    assert "costs 8" in again.json()["error"]["message"]


def test_local_mode_refuses_other_sites(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"), allow_local_without_key=True)
    port = server.settings.server.port
    url = server.base_url + "/chat/completions"
    for host in ("localhost", "127.0.0.1", "[::1]"):
        assert httpx.post(url, json=ASK, headers={"Host": f"{host}:{port}"}).status_code == 200
    rebinding = httpx.post(url, json=ASK, headers={"Host": f"evil.example:{port}"})
    assert rebinding.status_code == 403 and rebinding.json()["error"]["code"] == "host_not_allowed"
    reading = httpx.get(server.base_url + "/memories", headers={"Host": f"evil.example:{port}"})
    assert reading.status_code == 403
    assert httpx.post(url, json=ASK, headers={"Host": f"localhost:{port + 1}"}).status_code == 403
    planted = {**ASK, "messages": [{"role": "user", "content": "My shipping address is 1 Attacker Road."}]}
    form = httpx.post(url, content=json.dumps(planted), headers={"Content-Type": "text/plain"})
    assert form.status_code == 415 and form.json()["error"]["code"] == "unsupported_media_type"
    cross = httpx.post(url, json=ASK, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and cross.json()["error"]["code"] == "origin_not_allowed"
    own = httpx.post(url, json=ASK, headers={"Origin": f"http://127.0.0.1:{port}"})
    assert own.status_code == 200
    assert len(server.model.calls) == 4  # the refused requests never reached the model
    assert "Attacker Road" not in json.dumps(httpx.get(server.base_url + "/memories").json())


def test_keyed_mode_does_not_check_the_host(start_server) -> None:
    server = start_server(ScriptedModel(default="ok"))
    headers = {"Host": "api.example.com", "Authorization": f"Bearer {server.keys['big']}"}
    assert httpx.post(server.base_url + "/chat/completions", json=ASK, headers=headers).status_code == 200


def test_pages_and_answers_say_they_must_not_be_framed(start_server) -> None:
    for local in (False, True):
        server = start_server(ScriptedModel(default="ok"), allow_local_without_key=local)
        page = httpx.get(server.url + "/")
        assert page.headers["x-frame-options"] == "DENY"
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
        docs = httpx.get(server.url + "/docs")
        assert (
            docs.headers["x-frame-options"] == "DENY"
            and "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
        )
        api = httpx.get(server.url + "/healthz")
        assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert api.headers["x-frame-options"] == "DENY"


def test_a_refused_request_opens_no_session(start_server) -> None:
    from ponder.memory.owner import Owner

    server = start_server(ScriptedModel(default="ok"))
    key = server.keys["free"]  # 5 requests a minute
    codes = [post(server, key, {**ASK, "session_id": f"s{i}"}).status_code for i in range(7)]
    assert codes == [200] * 5 + [429] * 2
    sessions = server.app.state.ponder.memory.sessions.list_sessions(Owner("acme", "me"))
    assert sorted(s.id for s in sessions) == [f"s{i}" for i in range(5)]  # the refused ones opened none
