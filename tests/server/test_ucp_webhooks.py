"""UCP order webhooks against a real platform on loopback: once the person confirms an agent's checkout, the
platform named in the agent's profile gets the whole order, signed with the key the store's profile lists;
and again when the store ships it. Retried while the platform does not take it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.server.test_ucp import ANN, STORE, call
from tests.server.test_ucp_versions import CARD, released_create

from ponder.commerce.agent_actions import agent_proposals
from ponder.commerce.ucp.signing import verify_body
from ponder.commerce.ucp.v2026_01_11.schemas.shopping.order import Order as ReleasedOrder
from ponder.config import UcpConfig
from ponder.memory.owner import Owner
from ponder.server.ucp.webhooks import webhook_url
from ponder.store import KeyStore


class Platform:
    """An agent's platform: its profile (asking for order webhooks) and the webhook, which records what
    it gets and refuses the first ``refuse`` deliveries."""

    def __init__(self, refuse: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.refuse = refuse
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                profile = {
                    "ucp": {
                        "version": "2026-01-11",
                        "capabilities": [
                            {
                                "name": "dev.ucp.shopping.order",
                                "version": "2026-01-11",
                                "config": {"webhook_url": f"{platform.url}/webhooks/orders"},
                            }
                        ],
                    }
                }
                self._answer(200, json.dumps(profile).encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if platform.refuse > 0:
                    platform.refuse -= 1
                    self._answer(503, b"{}")
                    return
                platform.received.append((dict(self.headers), body))
                self._answer(200, b"{}")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.profile = f"{self.url}/profiles/agent.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, n: int, timeout_s: float = 20.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.received) >= n, f"{len(self.received)} webhooks arrived, not {n}"
        return self.received


@pytest.fixture
def platform() -> Iterator[Platform]:
    found = Platform(refuse=1)  # the first delivery is refused: the job must retry it
    yield found
    found.server.shutdown()


def test_the_platform_hears_of_the_order_when_placed_and_when_shipped(start_server, platform) -> None:
    live: LiveServer = start_server(ucp=UcpConfig(agent_urls="any"))  # the platform is on loopback here
    live.app.state.ponder.shop.catalog.import_store("acme", STORE)
    agent_key = KeyStore(live.app.state.ponder.db).create("acme", "big", agent_profile=platform.profile)[1]
    agent = f'profile="{platform.profile}"'  # 2026-01-11, the default
    created = call(
        live, "POST", "/ucp/checkout-sessions", released_create(), key=agent_key, agent=agent
    ).json()
    body = {"payment_data": CARD, "risk_signals": {}}
    path = f"/ucp/checkout-sessions/{created['id']}/complete"
    assert (
        call(live, "POST", path, body, key=agent_key, agent=agent).json()["status"] == "requires_escalation"
    )
    assert platform.received == []  # nothing is bought, nothing is said, until the person confirms

    shop = live.app.state.ponder.shop
    owner = Owner("acme", ANN)
    [held] = agent_proposals(live.app.state.ponder.db, owner).values()
    shop.actions.confirm(owner, held.action_id, held.token)  # the person, in the store's own app
    [(headers, raw)] = platform.events(1)
    order = ReleasedOrder.model_validate(json.loads(raw))
    assert order.checkout_id == created["id"] and order.line_items[0].quantity.total == 1
    keys = httpx.get(live.url + "/.well-known/ucp").json()["signing_keys"]
    assert verify_body(headers["Request-Signature"], raw, keys)
    assert not verify_body(headers["Request-Signature"], raw.replace(b"umb", b"UMB"), keys)
    assert headers["UCP-Agent"] == f'profile="{live.settings.server.base_url}/.well-known/ucp"'

    shop.orders.advance("acme", order.id, "processed", carrier="CTT", tracking_number="RR1PT")
    shipped = json.loads(platform.events(2)[1][1])
    [event] = shipped["fulfillment"]["events"]
    assert (event["type"], event["carrier"], event["tracking_number"]) == ("shipped", "CTT", "RR1PT")


def test_the_webhook_url_is_read_from_either_versions_profile() -> None:
    old = {
        "ucp": {
            "capabilities": [{"name": "dev.ucp.shopping.order", "config": {"webhook_url": "https://p/w"}}]
        }
    }
    new = {"ucp": {"capabilities": {"dev.ucp.shopping.order": [{"config": {"webhook_url": "https://p/w2"}}]}}}
    assert webhook_url(old) == "https://p/w" and webhook_url(new) == "https://p/w2"
    assert webhook_url({"ucp": {"capabilities": []}}) is None and webhook_url("nonsense") is None
