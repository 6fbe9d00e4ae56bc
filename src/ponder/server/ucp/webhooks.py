"""UCP order webhooks: an agent's platform hears of each change of an order its checkout became.

An agent's checkout, proposed at ``complete``, names the order event job as a watcher of the order to be
(commerce/ucp/checkouts.py); each change of the order (placed, shipped, delivered, cancelled, returned)
then queues one ``ucp.order_event`` job in the change's own transaction (order_records.notify), so no change
is lost to a crash. This module is that job's handler, run by the server's job worker:

1. it reads the agent's platform profile (the URL its ``UCP-Agent`` named) and finds the order capability's
   ``config.webhook_url`` there (2026-01-11: ``capabilities`` is a list; 2026-08-25: a map); a platform
   that asks for no webhook gets none;
2. it POSTs the whole order as it is now, in the UCP version the agent spoke at ``complete``, signed with
   the store's key in ``Request-Signature`` (a detached JWS of the body, RFC 7797) and naming the store in
   ``UCP-Agent`` (its profile URL);
3. anything but a 2xx, or no answer, fails the job, which the queue retries with backoff until its attempts
   run out (then it is ``dead``, logged for a person).

Both requests go through the address guard (server/address_guard.py): only public addresses, unless
``[ucp] agent_urls = "any"`` (a store whose agents are on its own network). Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import httpcore
import httpx

from ponder.commerce.ucp import shapes_2026_01_11 as released
from ponder.commerce.ucp.document import ORDER
from ponder.commerce.ucp.versions import RELEASED
from ponder.server.address_guard import GuardedBackend, Resolver, SystemResolver, guarded_client
from ponder.server.state import ServerState

__all__ = ["OrderWebhooks", "WebhookFailed", "webhook_url"]

MAX_PROFILE_BYTES = 256 * 1024


class WebhookFailed(Exception):
    """The platform's profile or webhook did not take the event: the job runs again later."""


def webhook_url(profile: Any) -> str | None:
    """The order capability's ``config.webhook_url`` in a platform profile of either UCP version."""
    capabilities = (profile.get("ucp") or {}).get("capabilities") if isinstance(profile, dict) else None
    if isinstance(capabilities, dict):  # 2026-08-25: name -> [versions]
        entries = capabilities.get(ORDER) or []
    elif isinstance(capabilities, list):  # 2026-01-11: [{name, ...}]
        entries = [c for c in capabilities if isinstance(c, dict) and c.get("name") == ORDER]
    else:
        return None
    for entry in entries:
        url = ((entry or {}).get("config") or {}).get("webhook_url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return url
    return None


class OrderWebhooks:
    """The ``ucp.order_event`` job handler of one server. The resolver, the network under the address guard
    and the TLS context are injectable, as for image URLs (tests use a loopback platform)."""

    def __init__(
        self,
        state: ServerState,
        *,
        resolver: Resolver | None = None,
        network: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.state = state
        self.resolver = resolver or SystemResolver()
        self.network = network
        self._ssl = ssl_context
        self.timeout_s = timeout_s

    def deliver(self, payload: dict[str, Any]) -> None:
        """The job's work, in the worker's thread: send the order's news, or raise to be retried."""
        asyncio.run(self._deliver(payload))

    async def _deliver(self, payload: dict[str, Any]) -> None:
        base_url = self.state.settings.server.base_url
        checkouts = self.state.ucp_checkouts
        session, order = await asyncio.to_thread(
            checkouts.order_event, str(payload["checkout_id"]), str(payload["order_id"]), base_url
        )
        profile_url = (session.state.get("agent") or {}).get("profile")
        if not profile_url:
            return  # the store's own app's checkout: it reads its orders on /v1
        body = released.order(order) if payload.get("version") == RELEASED else order
        raw = json.dumps(body, separators=(",", ":")).encode()
        signature = (await asyncio.to_thread(lambda: checkouts.signing)).sign_body(raw)
        async with self._client() as client:
            url = webhook_url(await self._profile(client, profile_url))
            if url is None:
                return  # the platform asks for no order events
            headers = {
                "Content-Type": "application/json",
                "Request-Signature": signature,
                "UCP-Agent": f'profile="{base_url}/.well-known/ucp"',
                "Idempotency-Key": f"{payload['order_id']}:{payload.get('event', '')}",  # the same on a retry
            }
            try:
                answer = await client.post(url, content=raw, headers=headers)
            except (httpx.HTTPError, OSError) as err:
                raise WebhookFailed(f"the webhook {url} did not answer: {err}") from None
        if not 200 <= answer.status_code < 300:
            raise WebhookFailed(f"the webhook {url} answered {answer.status_code}")

    async def _profile(self, client: httpx.AsyncClient, url: str) -> Any:
        try:
            answer = await client.get(url, headers={"Accept": "application/json"})
        except (httpx.HTTPError, OSError) as err:
            raise WebhookFailed(f"the platform profile {url} could not be read: {err}") from None
        if answer.status_code != 200 or len(answer.content) > MAX_PROFILE_BYTES:
            raise WebhookFailed(f"the platform profile {url} answered {answer.status_code}")
        try:
            return answer.json()
        except ValueError:
            raise WebhookFailed(f"the platform profile {url} is not JSON") from None

    def _client(self) -> httpx.AsyncClient:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        public_only = self.state.settings.ucp.agent_urls != "any"
        backend = GuardedBackend(self.resolver, public_only=public_only, inner=self.network)
        return guarded_client(backend, self._ssl, self.timeout_s)
