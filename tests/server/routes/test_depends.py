"""The route modules' shared dependencies: ``Caller`` checks the key and admits the request before the
request's own fields are validated (as the chat route does), and ``State`` is the serving app's own."""

from __future__ import annotations

import httpx


def test_the_key_is_checked_before_the_request_is_validated(start_server) -> None:
    server = start_server()
    no_key = httpx.get(server.base_url + "/sessions", params={"limit": 0}, timeout=30)
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "invalid_api_key", no_key.text
    with_key = httpx.get(
        server.base_url + "/sessions",
        params={"limit": 0},
        headers={"Authorization": f"Bearer {server.keys['big']}"},
        timeout=30,
    )
    assert with_key.status_code == 400 and with_key.json()["error"]["param"] == "query.limit", with_key.text


def test_failed_requests_to_a_cheap_route_count_toward_the_limit(start_server) -> None:
    server = start_server()
    headers = {"Authorization": f"Bearer {server.keys['free']}"}  # the free tier here: 5 per minute
    codes = [
        httpx.post(server.base_url + "/memories", json={}, headers=headers, timeout=30).status_code
        for _ in range(7)
    ]
    assert codes == [400] * 5 + [429] * 2


def test_each_app_answers_from_its_own_state(start_server) -> None:
    one, two = start_server(), start_server()
    for server in (one, two):
        headers = {"Authorization": f"Bearer {server.keys['big']}"}
        models = httpx.get(server.base_url + "/models", headers=headers, timeout=30)
        assert models.status_code == 200, models.text
        assert {c["created"] for c in models.json()["data"]} == {server.app.state.started}
    foreign = httpx.get(
        one.base_url + "/models", headers={"Authorization": f"Bearer {two.keys['big']}"}, timeout=30
    )
    assert foreign.status_code == 401  # two's key is in two's database only
