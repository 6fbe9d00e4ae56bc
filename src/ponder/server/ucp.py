"""The Universal Commerce Protocol's checkout over REST (UCP 2026-08-25), so standard shopping agents can
drive a Ponder store.

    GET  /.well-known/ucp                       the business profile (no key): REST endpoint {server}/ucp,
                                                checkout + fulfillment, one payment handler (the provider's);
                                                {server} is ``server.public_base_url``, never the Host header
    POST /ucp/checkout-sessions                 create (201): the store's item ids, priced from the catalog
    GET  /ucp/checkout-sessions/{id}            read: after the person confirmed, ``completed`` with ``order``
    PUT  /ucp/checkout-sessions/{id}            full replacement: line items, buyer, fulfillment
    POST /ucp/checkout-sessions/{id}/complete   proposes the order: ``requires_escalation`` + ``continue_url``
    POST /ucp/checkout-sessions/{id}/cancel     ``canceled`` (a confirmation still pending stops working)
    GET  /ucp/confirm/{id}                      the person's page (the ``continue_url``), and its two calls
    POST /ucp/confirm/{id}/review, POST /ucp/confirm/{id}

**Who calls.** An outside shopping agent is not the store's own client: it calls with a **UCP agent
credential** (``ponder keys create --ucp-agent PROFILE_URL``), which works on these routes only (the /v1
routes refuse it, server/auth.py) and only with the ``UCP-Agent`` profile it was created for (403
``profile_mismatch`` otherwise). The store's own app calls with an **account key**, which acts for any user
of its account, as on /v1. A checkout belongs to the kind of credential that started it: an agent's
checkout only to that credential, an account key's only to the account's keys (to anyone else: 404).

**Completing never buys.** ``complete`` proposes a pending action (``ActionDesk.propose_checkout``) and
answers ``requires_escalation``, with an error of severity ``requires_buyer_review`` and a ``continue_url``.
Who may confirm depends on who asked:

- **An agent's checkout** is confirmed only by the person, on the store's own surfaces for that user: the
  pending action, with its token, is listed by ``GET /v1/actions?user=EMAIL`` to the store's account key (the
  chat page shows it) and ``ponder shop pending`` / ``ponder shop confirm`` find it; the agent never holds the
  token. Its ``continue_url`` (``{server}/ucp/confirm/{id}``, no token) only tells the person where to
  confirm: a link is not consent, so the page confirms nothing (it has no way yet to authenticate the
  person, such as a one-time code sent to the contact on file). The agent learns the outcome by reading the
  checkout. Such a checkout shows none of the buyer's saved addresses or payment methods and cannot use
  them: the agent ships to a destination it gives and pays with a provider token.
- **The store's own app** (an account key) gets ``{server}/ucp/confirm/{id}#token=…``, as it gets tokens in
  ``ponder.pending_actions`` on /v1: it relays its user's decision. The token is in the fragment, which a
  browser never sends to a server (no access log, proxy or Referer sees it); the page posts it back only when
  the person presses Confirm, and a GET of the link confirms nothing. It works once, for exactly the items,
  address, method and total shown, for the action's TTL. The person may also confirm through
  ``POST /v1/actions/{action_id}/confirm`` (the page's review gives the action id).

Either way a confirmation is accepted only for the user the action belongs to.
Reads derive the checkout from the action: ``done`` is ``completed`` (with the order), ``confirmed`` is
``complete_in_progress``, and a declined, failed or expired one returns the checkout to
``ready_for_complete`` with a warning. Updating or canceling a checkout that waits for the person declines
its action first, so a link never buys what the checkout no longer says.

Who buys: the key (``Authorization: Bearer`` or ``X-API-Key``) names the account, whose store this is. The
buyer is the user named by ``buyer.email`` (lower-cased), created on first use; a customer imported with
their email as user id is the same person. To an account key, that user's saved addresses and payment
methods are offered (``fulfillment`` destinations, ``payment.instruments``); to an agent, never. For an
account key, a new shipping address (a ``destinations`` entry) is saved to their address book when the
checkout is completed, and a provider token (a ``token`` credential of our handler) as a payment method. An
agent's destination and token are never saved to the buyer's account, not even once the person confirms:
they are kept in the pending action alone, and if the person confirms, the order records the address and
the token is charged (``ActionDesk.propose_checkout`` with ``address`` and ``method``); declined or
expired, they leave nothing in the buyer's saved addresses or payment methods.

Errors: business outcomes are 200 with ``messages`` (an unknown or sold-out item, a missing email); a create
that prices nothing is a 200 ``ErrorResponse``. Unknown checkout 404 and finished checkout 409 carry an
``ErrorResponse``; protocol errors (400 bad request or UCP-Agent, 401, 403, 409 reused idempotency key or a
concurrent change, 429) carry ``{code, content}``. An ``Idempotency-Key`` on POST/PUT replays the first
answer to the same body (SHA-256 of the raw bytes, per client key and operation); another body is a 409.

Not here: fetching or validating the agent's profile named by ``UCP-Agent`` (no network from this module: the
header is required and its shape checked), version and capability negotiation (it answers 2026-08-25, with
checkout and fulfillment), message signatures, tax, shipping prices (one free standard option), discounts,
identity linking (OAuth), card numbers, and terms/privacy links (Ponder has no such pages: ``links`` is
empty). The ``ucp-sdk`` models are imported here only.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from starlette.exceptions import HTTPException
from ucp_sdk.models.schemas.common.types.error_response import (  # type: ignore[import-untyped]
    ErrorResponse as UcpErrorResponse,
)
from ucp_sdk.models.schemas.profile import BusinessSchema as BusinessProfile  # type: ignore[import-untyped]
from ucp_sdk.models.schemas.shopping.checkout_complete_request import (  # type: ignore[import-untyped]
    CheckoutCompleteRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_create_request import (  # type: ignore[import-untyped]
    CheckoutCreateRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_update_request import (  # type: ignore[import-untyped]
    CheckoutUpdateRequest,
)
from ucp_sdk.models.schemas.shopping.fulfillment import Checkout  # type: ignore[import-untyped]
from ucp_sdk.models.schemas.shopping.types.fulfillment_create_request import (  # type: ignore[import-untyped]
    FulfillmentCreateRequest,
)
from ucp_sdk.models.schemas.shopping.types.shipping_destination_create_request import (  # type: ignore[import-untyped]
    ShippingDestinationCreateRequest,
)
from ucp_sdk.models.schemas.ucp import ResponseCheckoutSchema  # type: ignore[import-untyped]

from ponder.commerce.actions import money
from ponder.commerce.checkout import MAX_QUANTITY, LineItem
from ponder.commerce.customers import write_customers
from ponder.commerce.idempotency import IdempotencyKeys, Outcome
from ponder.commerce.model import Address, Customer, PaymentMethod
from ponder.commerce.shop import Shop
from ponder.errors import ConflictError, NotFoundError, PaymentDeclinedError, PonderError, UserError
from ponder.memory.owner import Owner, check_name
from ponder.server.auth import admit, authenticate
from ponder.server.errors import ApiError, from_ponder_error
from ponder.server.protocol import ErrorResponse as OpenAiErrorResponse
from ponder.server.state import ServerState
from ponder.store.database import sql
from ponder.store.keys import check_profile_url

__all__ = ["VERSION", "UcpCheckouts", "register_ucp"]

VERSION = "2026-08-25"
SHOPPING = "dev.ucp.shopping"
CHECKOUT = "dev.ucp.shopping.checkout"
FULFILLMENT = "dev.ucp.shopping.fulfillment"
HANDLER = "dev.ponder.payment_token"  # our handler: a saved method by id, or the provider's token
SESSION_TTL_S = 6 * 3600  # the spec's default lifetime of a checkout
MAX_LINES = 50  # as a Ponder checkout (checkout.py)
SHIPPING_METHOD, PACKAGE, STANDARD = "shipping", "package_1", "standard"

INCOMPLETE, READY, ESCALATION = "incomplete", "ready_for_complete", "requires_escalation"
IN_PROGRESS, COMPLETED, CANCELED = "complete_in_progress", "completed", "canceled"
FINISHED = (COMPLETED, CANCELED)
FROZEN = (ESCALATION, IN_PROGRESS, COMPLETED, CANCELED)  # answered from the stored body, not re-priced

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PROFILE = re.compile(r'(?:^|,)\s*profile\s*=\s*"([^"\\]*)"')
_URL = TypeAdapter(AnyUrl)
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}

T = TypeVar("T")


# --- errors --------------------------------------------------------------------------------------------


class UcpProtocolError(BaseModel):
    """A protocol error: the HTTP status says what kind, ``code`` and ``content`` say what."""

    model_config = ConfigDict(extra="forbid")

    code: str
    content: str


class Refusal(Exception):
    """A request answered with an HTTP error: ``{code, content}``, or an ``ErrorResponse`` (``envelope``)
    for a checkout that does not exist or can no longer change."""

    def __init__(
        self,
        status: int,
        code: str,
        content: str,
        *,
        envelope: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(content)
        self.status = status
        self.code = code
        self.content = content
        self.envelope = envelope
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        if self.envelope:
            return error_response(self.code, self.content)
        return {"code": self.code, "content": self.content}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_response(code: str, content: str) -> dict[str, Any]:
    """A UCP ``ErrorResponse``: no checkout to show, one unrecoverable error."""
    body = {
        "ucp": {"version": VERSION, "status": "error"},
        "messages": [_error(code, content, severity="unrecoverable")],
    }
    dumped: dict[str, Any] = UcpErrorResponse.model_validate(body).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return dumped


def _not_found(checkout_id: str) -> Refusal:
    return Refusal(404, "not_found", f"No checkout session '{checkout_id}'.", envelope=True)


def _error(code: str, content: str, path: str | None = None, severity: str = "recoverable") -> dict[str, Any]:
    message = {"type": "error", "code": code, "content": content, "severity": severity}
    return message | ({"path": path} if path else {})


def _warning(code: str, content: str) -> dict[str, Any]:
    return {"type": "warning", "code": code, "content": content}


class _UcpRoute(APIRoute):
    """Every error of a UCP route leaves in UCP's shapes: a malformed request or UCP-Agent header is a 400
    ``{code, content}`` (not the server's OpenAI-shaped 400), and so are key and rate-limit refusals."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as err:
                return _invalid(err).response()
            except HTTPException as err:  # FastAPI's own, e.g. a body that is not JSON
                code = "invalid_request" if err.status_code == 400 else "http_error"
                return Refusal(
                    err.status_code, code, str(err.detail), headers=dict(err.headers or {})
                ).response()
            except ApiError as err:
                return Refusal(err.status, err.code or err.type, err.message, headers=err.headers).response()
            except Refusal as refusal:
                return refusal.response()

        return route


def _invalid(err: RequestValidationError) -> Refusal:
    first = err.errors()[0]
    loc = [str(p) for p in first.get("loc", ())]
    if loc[:2] == ["header", "UCP-Agent"]:
        return Refusal(400, "invalid_profile_url", 'The UCP-Agent header is required: profile="https://…".')
    where = ".".join(p for p in loc if p != "body")
    return Refusal(
        400, "invalid_request", f"Invalid request: {where + ': ' if where else ''}{first.get('msg')}"
    )


# --- who is asking ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    account: str  # the store
    client: str  # the API key's id: the scope of idempotency keys, and of an agent's checkouts
    base_url: str  # this server's configured public base URL (server.public_base_url), no trailing slash
    agent: str | None = None  # an outside agent's credential: its platform profile; None: an account key


def profile_url(header: str) -> str:
    """The platform profile's URL in a ``UCP-Agent`` header (an RFC 8941 dictionary), checked for shape only:
    an absolute https URL (http on loopback, for development). It is not fetched."""
    found = _PROFILE.search(header)
    try:
        return check_profile_url(found.group(1) if found else "")
    except UserError:
        raise Refusal(
            400,
            "invalid_profile_url",
            'UCP-Agent must name the platform profile as profile="https://…" (RFC 8941 dictionary).',
        ) from None


async def _caller(state: ServerState, request: Request, ucp_agent: str) -> tuple[Caller, dict[str, str]]:
    """The key's account, admitted at the price of one request, as ``caller()`` in app.py does. An agent
    credential must declare the profile it was created for."""
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if not authorization and api_key:
        authorization = f"Bearer {api_key}"
    principal = await authenticate(state, authorization, agent_ok=True)
    request.scope.setdefault("state", {})["account"] = principal.account
    headers = await admit(state, principal, 1.0)
    declared = profile_url(ucp_agent)
    agent = principal.agent_profile
    if agent is not None and not hmac.compare_digest(declared.encode(), agent.encode()):
        raise Refusal(403, "profile_mismatch", "This credential belongs to another platform profile.")
    return Caller(principal.account, principal.key_id, state.settings.server.base_url, agent), headers


def _user_of(email: str | None) -> str | None:
    """The user a buyer email names, or None if it is not a usable email."""
    user = (email or "").strip().lower()
    if not _EMAIL.fullmatch(user):
        return None
    try:
        return check_name(user, "user name")
    except UserError:
        return None


async def _run(work: Callable[[], T]) -> T:
    try:
        return await asyncio.to_thread(work)
    except PonderError as err:
        raise from_ponder_error(err) from err


# --- the sessions ----------------------------------------------------------------------------------------


@dataclass
class Session:
    account: str
    id: str
    user: str  # "" until the buyer's email is known
    status: str
    state: dict[str, Any]
    body: dict[str, Any]  # the checkout as last answered (the answer itself while FROZEN)
    version: int
    expires_at: float

    @property
    def owner(self) -> Owner | None:
        return Owner(self.account, self.user) if self.user else None

    def customer(self) -> Owner:
        if not self.user:
            raise Refusal(409, "conflict", "This checkout has no buyer.")
        return Owner(self.account, self.user)

    def proposer(self, action: dict[str, Any]) -> Owner:
        """Whose pending action ``action`` is (the buyer when it was proposed)."""
        return Owner(self.account, action["user"])

    @property
    def agent_key(self) -> str | None:
        """The id of the agent credential that started this checkout; None if an account key did."""
        agent = self.state.get("agent")
        return str(agent["key"]) if agent else None


@dataclass
class _Evaluation:
    """A live checkout priced now: its lines, what an order would buy, and what is missing or wrong."""

    line_items: list[dict[str, Any]]
    items: list[LineItem]
    subtotal: int
    messages: list[dict[str, Any]]
    destinations: list[Address]
    destination: Address | None
    methods: list[PaymentMethod]

    @property
    def ready(self) -> bool:
        return bool(self.items) and not any(m["type"] == "error" for m in self.messages)


class UcpCheckouts:
    """UCP checkout sessions over the shop engine: storage, pricing, the status machine and idempotency.

    Every method is synchronous (SQL and the shop's stores): the routes run them in a worker thread."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.db = state.db
        self.keys = IdempotencyKeys(state.db)

    @property
    def shop(self) -> Shop:
        return self.state.shop

    # --- the profile and the envelope -----------------------------------------------------------------

    def handler(self) -> dict[str, Any]:
        name = self.shop.provider.name
        return {
            "id": f"ponder_{name}",
            "version": VERSION,
            "available_instruments": [{"type": "card"}, {"type": "gift_card"}, {"type": "paypal"}],
            "config": {"provider": name, "environment": "TEST" if name == "test" else "PRODUCTION"},
        }

    def profile(self, base_url: str) -> dict[str, Any]:
        """The business profile served at /.well-known/ucp."""
        body = {
            "ucp": {
                "version": VERSION,
                "services": {
                    SHOPPING: [
                        {
                            "version": VERSION,
                            "spec": f"https://ucp.dev/{VERSION}/specification/overview/",
                            "transport": "rest",
                            "schema": f"https://ucp.dev/{VERSION}/services/shopping/rest.openapi.json",
                            "endpoint": f"{base_url}/ucp",
                        }
                    ]
                },
                "capabilities": {
                    CHECKOUT: [
                        {
                            "version": VERSION,
                            "spec": f"https://ucp.dev/{VERSION}/specification/shopping/checkout/",
                            "schema": f"https://ucp.dev/{VERSION}/schemas/shopping/checkout.json",
                        }
                    ],
                    FULFILLMENT: [
                        {
                            "version": VERSION,
                            "schema": f"https://ucp.dev/{VERSION}/schemas/shopping/fulfillment.json",
                            "extends": CHECKOUT,
                        }
                    ],
                },
                "payment_handlers": {HANDLER: [self.handler()]},
            }
        }
        dumped: dict[str, Any] = BusinessProfile.model_validate(body).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        return dumped

    def envelope(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "status": "success",
            "capabilities": {
                CHECKOUT: [{"version": VERSION}],
                FULFILLMENT: [{"version": VERSION, "extends": CHECKOUT}],
            },
            "payment_handlers": {HANDLER: [self.handler()]},
        }

    # --- the operations -------------------------------------------------------------------------------

    def once(
        self,
        caller: Caller,
        operation: str,
        key: str | None,
        path: str,
        raw: bytes,
        work: Callable[[], tuple[int, dict[str, Any]]],
    ) -> tuple[int, dict[str, Any]]:
        """``work()``, or the first answer to this key and body; another body with the key is a 409.

        The answer is stored after the work's own transactions: a crash in between makes the retry do the
        work again (a second session or proposal nobody holds), never a second order."""
        if key is None:
            return work()
        owner = Owner(caller.account, "ucp:" + caller.client)
        name = f"{operation}:{key}"
        try:
            claim = self.keys.claim(owner, name, {"path": path, "sha256": hashlib.sha256(raw).hexdigest()})
        except ConflictError as err:
            retry = {"Retry-After": str(max(1, round(err.retry_after)))} if err.retry_after else None
            code = "request_in_progress" if retry else "idempotency_conflict"
            raise Refusal(409, code, str(err), headers=retry) from None
        except UserError as err:
            raise Refusal(400, "invalid_request", str(err)) from None
        if isinstance(claim, Outcome):  # this layer's value: the HTTP answer it gave
            return int(claim.value["status"]), claim.value["body"]
        try:
            status, answer = work()
        except Refusal as refusal:
            if refusal.headers:  # a passing state (a concurrent change): the retry may succeed
                self.keys.release(owner, name)
                raise
            status, answer = refusal.status, refusal.body()
        except BaseException:
            self.keys.release(owner, name)
            raise
        with self.db.transaction(lock=self.keys.lock_name(owner, name)) as db:
            earlier = self.keys.finish(db, owner, name, {"status": status, "body": answer})
        return (int(earlier.value["status"]), earlier.value["body"]) if earlier else (status, answer)

    def create(self, caller: Caller, request: Any, key: str | None = None) -> tuple[int, dict[str, Any]]:
        try:
            self.shop.catalog.store_info(caller.account)
        except NotFoundError as err:
            return 200, error_response("not_found", str(err))
        checkout_id = "chk_" + secrets.token_hex(16)
        now = time.time()
        session = Session(
            caller.account, checkout_id, "", INCOMPLETE, _new_state(), {}, 0, now + SESSION_TTL_S
        )
        if caller.agent is not None:  # an outside agent's: never shown the buyer's saved data
            session.state["agent"] = {"key": caller.client, "profile": caller.agent}
        lines = [(None, line.item.id, line.quantity) for line in request.line_items]
        self._apply(session, lines, request.buyer, (request.model_extra or {}).get("fulfillment"))
        evaluation = self._evaluate(session)
        if not evaluation.items:
            code = "out_of_stock" if evaluation.line_items else "item_unavailable"
            return 200, error_response(code, "None of the requested items can be bought here now.")
        session.status = READY if evaluation.ready else INCOMPLETE
        session.body = self._live(session, evaluation)
        if session.owner is not None:  # the buyer's first use makes them a user of the account
            self.shop.customers.users.ensure(session.owner)
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "INSERT INTO ucp_checkout_sessions (account, id, user_id, status, session, state, "
                    "idempotency_key, version, created_at, updated_at, expires_at) VALUES (:account, :id, "
                    ":user, :status, :session, :state, :key, 0, :now, :now, :expires)"
                ),
                {
                    "account": session.account,
                    "id": session.id,
                    "user": session.user,
                    "status": session.status,
                    "session": json.dumps(session.body),
                    "state": json.dumps(session.state),
                    "key": key or "",
                    "now": now,
                    "expires": session.expires_at,
                },
            )
        return 201, session.body

    def get(self, caller: Caller, checkout_id: str) -> tuple[int, dict[str, Any]]:
        return 200, self.current(caller, checkout_id, caller.base_url)[1]

    def update(self, caller: Caller, checkout_id: str, request: Any) -> tuple[int, dict[str, Any]]:
        session, body = self._changeable(caller, checkout_id, "updated")
        if session.status == IN_PROGRESS:
            return 200, _with(body, _error("complete_in_progress", "The order is being placed; try later."))
        lines = [(line.id, line.item.id, line.quantity) for line in request.line_items]
        self._apply(session, lines, request.buyer, (request.model_extra or {}).get("fulfillment"))
        evaluation = self._evaluate(session)
        session.status = READY if evaluation.ready else INCOMPLETE
        if session.owner is not None:
            self.shop.customers.users.ensure(session.owner)
        return 200, self._save(session, self._live(session, evaluation))

    def complete(self, caller: Caller, checkout_id: str, request: Any) -> tuple[int, dict[str, Any]]:
        session, body = self.current(caller, checkout_id, caller.base_url)
        if session.status in FINISHED:
            raise Refusal(409, "checkout_finished", f"This checkout is {session.status}.", envelope=True)
        if session.status in (ESCALATION, IN_PROGRESS):  # already proposed: the same answer
            return 200, body
        evaluation = self._evaluate(session)
        if not evaluation.ready or evaluation.destination is None:
            return 200, self._live(session, evaluation)
        owner, destination = session.customer(), evaluation.destination
        try:
            instrument, method = self._instrument(request.payment, evaluation)
            if session.agent_key is not None:
                # An outside agent's address and card are the order's alone: kept in the pending action,
                # recorded on the order and charged if the person confirms, never saved to their account.
                if isinstance(method, str):
                    raise _Declined("Pay with a provider token: saved methods are not offered.", "$.payment")
                action, token = self.shop.actions.propose_checkout(
                    owner, items=evaluation.items, address=destination, method=method
                )
            else:  # the store's own app: saved for its user, as its checkout always did
                if destination.id not in {a.id for a in self.shop.customers.addresses(owner)}:
                    self.shop.customers.add_address(owner, destination)
                if not isinstance(method, str):
                    with self.db.transaction() as db:
                        customer = Customer(owner.user, payment_methods=(method,))
                        write_customers(db, owner.account, [customer], time.time())
                action, token = self.shop.actions.propose_checkout(
                    owner,
                    items=evaluation.items,
                    address_id=destination.id,
                    payment_method_id=method if isinstance(method, str) else method.id,
                )
        except _Declined as declined:
            return 200, _with(self._live(session, evaluation), declined.message)
        except PaymentDeclinedError as err:
            message = _error("payment_failed", str(err), "$.payment")
            return 200, _with(self._live(session, evaluation), message)
        except ConflictError as err:
            message = _error("out_of_stock", str(err), "$.line_items")
            return 200, _with(self._live(session, evaluation), message)
        except UserError as err:
            return 200, _with(self._live(session, evaluation), _error("invalid", str(err)))
        session.state["instrument"] = instrument
        session.state["payment_method_id"] = method if isinstance(method, str) else method.id
        session.state["action"] = {
            "id": action.id,
            "user": owner.user,
            "sha256": hashlib.sha256(token.encode()).hexdigest(),
            "token": token,  # only while it may be confirmed: a consumed or dead token is dropped
        }
        session.state["outcome"] = None
        session.status = ESCALATION
        body = self._live(session, evaluation)
        if caller.agent is None:  # the store's own app: it relays its user's decision, as /v1/actions
            body["continue_url"] = _continue_url(caller.base_url, session.id, token)
            where = "at continue_url"
        else:  # an outside agent never holds the token: the person confirms in the store's own app
            body["continue_url"] = f"{caller.base_url}/ucp/confirm/{session.id}"
            where = "in the store's own app (the agent cannot confirm it); read this checkout for the outcome"
        body["messages"] = [
            _error(
                "buyer_confirmation_required",
                f"The buyer confirms this order themselves, {where}. {action.summary}",
                severity="requires_buyer_review",
            )
        ]
        try:
            return 200, self._save(session, _checked(body))
        except Refusal:
            self.shop.actions.decline(owner, action.id, token)  # nobody may confirm what was not saved
            raise

    def cancel(self, caller: Caller, checkout_id: str) -> tuple[int, dict[str, Any]]:
        session, body = self._changeable(caller, checkout_id, "canceled")
        if session.status == IN_PROGRESS:
            raise Refusal(409, "complete_in_progress", "The order is being placed; it cannot be canceled.")
        session.status = CANCELED
        body = self._live(session, self._evaluate(session))
        body["messages"] = [{"type": "info", "code": "canceled", "content": "The checkout was canceled."}]
        return 200, self._save(session, _checked(body))

    # --- the person's confirmation page ------------------------------------------------------------------

    def review(self, checkout_id: str, token: str, base_url: str) -> dict[str, Any]:
        """What the person is asked to confirm (or what became of it), if ``token`` is the link's."""
        session, body, action = self._verified(checkout_id, token, base_url)
        pending = self.shop.actions.get(session.proposer(action), action["id"])
        waiting = "token" in action or session.status in FINISHED
        return {
            "checkout_id": session.id,
            "action_id": pending.id,
            "status": session.status if waiting else "withdrawn",
            "summary": pending.summary,
            "total": money(pending.amount, pending.currency),
            "order_id": (body.get("order") or {}).get("id"),
        }

    def decide(self, checkout_id: str, token: str, confirm: bool, base_url: str) -> dict[str, Any]:
        """The person's Confirm or Decline from the page: the pending action carried out, or declined."""
        session, _, action = self._verified(checkout_id, token, base_url)
        if confirm:
            self.shop.actions.confirm(session.proposer(action), action["id"], token)
        else:
            self.shop.actions.decline(session.proposer(action), action["id"], token)
        return self.review(checkout_id, token, base_url)

    def _verified(
        self, checkout_id: str, token: str, base_url: str
    ) -> tuple[Session, dict[str, Any], dict[str, Any]]:
        """The session whose latest proposal ``token`` belongs to (any account: the person has no key)."""
        session, body = self.current(None, checkout_id, base_url)
        action = session.state.get("action") or {}
        digest = hashlib.sha256(token.encode()).hexdigest()
        if not action or not hmac.compare_digest(digest, action["sha256"]):
            raise _not_found(checkout_id)
        if session.agent_key is not None:  # a link is no consent: the person confirms in the store's app
            raise _not_found(checkout_id)
        return session, body, action

    # --- reading and deriving ----------------------------------------------------------------------------

    def current(
        self, caller: Caller | None, checkout_id: str, base_url: str
    ) -> tuple[Session, dict[str, Any]]:
        """The session and its checkout now: what the person decided, and expiry, applied and saved.
        ``caller`` must be the one who may see it (None: the person's page, which has no key): an agent's
        checkout is its own credential's alone, and an account key's is the account keys' alone."""
        for _ in range(5):
            session = self._read(caller.account if caller else None, checkout_id)
            if caller is not None and session.agent_key != (caller.client if caller.agent else None):
                raise _not_found(checkout_id)
            moved = self._transition(session, base_url)
            if moved is None:
                if session.status in FROZEN:
                    return session, session.body | {"ucp": self.envelope()}
                return session, self._live(session, self._evaluate(session))
            try:
                return session, self._save(session, moved)
            except Refusal:
                continue  # another request moved it first: read it again
        raise Refusal(409, "conflict", "The checkout is changing; retry.", headers={"Retry-After": "1"})

    def _transition(self, session: Session, base_url: str) -> dict[str, Any] | None:
        """The next body if what the session waits for happened (a decision, an expiry); None if nothing did.
        ``session`` is updated in place."""
        if session.status in FINISHED:
            return None
        now = time.time()
        action = session.state.get("action")
        if session.status in (ESCALATION, IN_PROGRESS) and action:
            try:
                decided = self.shop.actions.get(session.proposer(action), action["id"])
                status, result, expired = decided.status, decided.result, decided.expires_at < now
            except NotFoundError:  # its user was forgotten
                status, result, expired = "failed", {"error": "The buyer's data was deleted."}, False
            if status == "done" and result is not None:
                return self._completed(session, str(result["id"]), base_url)
            if status == "confirmed":
                if session.status == IN_PROGRESS:
                    return None
                session.status = IN_PROGRESS
                return _frozen(session.body, IN_PROGRESS)
            if status == "pending" and not expired and session.expires_at >= now:
                return None
            if status == "pending":  # the person did not answer in time: the link stops working
                if not self._withdraw(session):
                    return self._transition(session, base_url)
                status = "expired"
            action.pop("token", None)
            session.state["action"] = action
            session.state["outcome"] = _outcome(status, result)
        if session.expires_at < now:
            session.status = CANCELED
            body = self._live(session, self._evaluate(session))
            body["messages"] = [{"type": "info", "code": "expired", "content": "The checkout expired."}]
            return _checked(body)
        if session.status in (ESCALATION, IN_PROGRESS):
            evaluation = self._evaluate(session)
            session.status = READY if evaluation.ready else INCOMPLETE
            return self._live(session, evaluation)
        return None

    def _completed(self, session: Session, order_id: str, base_url: str) -> dict[str, Any]:
        session.status = COMPLETED
        session.state["order"] = {"id": order_id}
        (session.state.get("action") or {}).pop("token", None)
        body = _frozen(session.body, COMPLETED)
        body["order"] = {"id": order_id, "permalink_url": f"{base_url}/ucp/confirm/{session.id}"}
        return _checked(body)

    def _changeable(self, caller: Caller, checkout_id: str, what: str) -> tuple[Session, dict[str, Any]]:
        """The session, no longer waiting for the person (its action declined) unless it is being placed."""
        for _ in range(5):
            session, body = self.current(caller, checkout_id, caller.base_url)
            if session.status in FINISHED:
                text = f"This checkout is {session.status}: it cannot be {what}."
                raise Refusal(409, "checkout_finished", text, envelope=True)
            if session.status != ESCALATION or self._withdraw(session):
                return session, body
        raise Refusal(409, "conflict", "The checkout is changing; retry.", headers={"Retry-After": "1"})

    def _withdraw(self, session: Session) -> bool:
        """Decline the pending action so its link stops working; False if the person decided first."""
        action = session.state.get("action") or {}
        token = action.pop("token", None)
        if token is None:
            return True
        try:
            self.shop.actions.decline(session.proposer(action), action["id"], token)
        except ConflictError:
            return False
        except NotFoundError:
            pass
        session.state["action"] = action
        return True

    # --- storage ------------------------------------------------------------------------------------------

    def _read(self, account: str | None, checkout_id: str) -> Session:
        where = "id = :id" + (" AND account = :account" if account is not None else "")
        with self.db.reading() as db:
            row = (
                db.execute(
                    sql(f"SELECT * FROM ucp_checkout_sessions WHERE {where}"),
                    {"id": checkout_id, "account": account},
                )
                .mappings()
                .first()
            )
        if row is None:
            raise _not_found(checkout_id)
        return Session(
            row["account"],
            row["id"],
            row["user_id"],
            row["status"],
            json.loads(row["state"]),
            json.loads(row["session"]),
            int(row["version"]),
            float(row["expires_at"]),
        )

    def _save(self, session: Session, body: dict[str, Any]) -> dict[str, Any]:
        """Write the session if nobody wrote it since it was read; a 409 to retry otherwise."""
        with self.db.transaction(lock=f"ucp:{session.account}:{session.id}") as db:
            written = db.execute(
                sql(
                    "UPDATE ucp_checkout_sessions SET user_id = :user, status = :status, session = :session, "
                    "state = :state, version = version + 1, updated_at = :now "
                    "WHERE account = :account AND id = :id AND version = :version"
                ),
                {
                    "account": session.account,
                    "id": session.id,
                    "user": session.user,
                    "status": session.status,
                    "session": json.dumps(body),
                    "state": json.dumps(session.state),
                    "now": time.time(),
                    "version": session.version,
                },
            ).rowcount
        if not written:
            raise Refusal(
                409, "conflict", "The checkout changed meanwhile; retry.", headers={"Retry-After": "1"}
            )
        session.version += 1
        session.body = body
        return body

    # --- what the platform asked for ------------------------------------------------------------------------

    def _apply(
        self, session: Session, lines: Sequence[tuple[str | None, str, int]], buyer: Any, fulfillment: Any
    ) -> None:
        """Replace what the platform asked for (UCP updates are full replacements)."""
        if len(lines) > MAX_LINES:
            raise Refusal(400, "invalid_request", f"A checkout takes at most {MAX_LINES} line items.")
        if any(quantity > MAX_QUANTITY for _, _, quantity in lines):
            raise Refusal(400, "invalid_request", f"A line item's quantity is at most {MAX_QUANTITY}.")
        state = session.state
        known = {line["id"] for line in state["lines"]}
        taken: set[str] = set()
        new_lines = []
        for given, item_id, quantity in lines:
            line_id = given if given in known and given not in taken else None
            if line_id is None:
                line_id = f"li_{state['next_line']}"
                state["next_line"] += 1
            taken.add(line_id)
            new_lines.append({"id": line_id, "item_id": item_id, "quantity": quantity})
        state["lines"] = new_lines
        fields = ("first_name", "last_name", "email", "phone_number")
        state["buyer"] = {f: getattr(buyer, f) for f in fields if buyer and getattr(buyer, f) is not None}
        user = _user_of(state["buyer"].get("email")) or ""
        if user != session.user:  # another buyer: the instrument chosen was the previous one's
            state["instrument"] = state["payment_method_id"] = None
        session.user = user
        destinations, selected, option, notes = _read_fulfillment(fulfillment)
        state["destinations"] = [asdict(d) for d in destinations]
        state["selected_destination"] = selected
        state["selected_option"] = option
        state["notes"] = notes
        state["outcome"] = None

    def _instrument(
        self, payment: Any, evaluation: _Evaluation
    ) -> tuple[dict[str, Any], str | PaymentMethod]:
        """The one instrument to pay with, as echoed (no credential), and what pays: a saved method's id (one
        of ``evaluation.methods``), or a method holding the provider token sent (not saved here)."""
        instruments = list(payment.instruments or [])
        chosen = [i for i in instruments if i.selected] or instruments
        if len(chosen) != 1:
            raise _Declined("Send exactly one payment instrument.", "$.payment.instruments")
        instrument = chosen[0]
        handler_id = self.handler()["id"]
        if instrument.handler_id != handler_id:
            raise _Declined(f"Unknown handler_id '{instrument.handler_id}': use '{handler_id}'.", None)
        display = instrument.display or {}
        echo: dict[str, Any] = {"id": instrument.id, "handler_id": handler_id, "type": instrument.type}
        if display:
            echo["display"] = display
        credential = instrument.credential
        if credential is None:  # a saved method, by the id we offered
            if instrument.id not in {m.id for m in evaluation.methods}:
                raise _Declined(f"No saved payment method '{instrument.id}' for this buyer.", None)
            return echo, str(instrument.id)
        token = (credential.model_extra or {}).get("token")
        if credential.type != "token" or not isinstance(token, str) or not 1 <= len(token) <= 200:
            raise _Declined("The credential must be {'type': 'token', 'token': '<provider token>'}.", None)
        method = PaymentMethod(
            "pm_" + hashlib.sha256(token.encode()).hexdigest()[:16],
            "card",
            token,
            str(display.get("brand", ""))[:20],
            str(display.get("last_digits", ""))[-4:],
        )
        return echo, method

    # --- pricing and rendering ------------------------------------------------------------------------------

    def _evaluate(self, session: Session) -> _Evaluation:
        """Price the lines from the catalog now and list what blocks completing."""
        state, owner = session.state, session.owner
        messages: list[dict[str, Any]] = list(state["notes"])
        line_items: list[dict[str, Any]] = []
        items: list[LineItem] = []
        subtotal = 0
        if not state["lines"]:
            messages.append(_error("missing", "Add at least one line item.", "$.line_items"))
        for line in state["lines"]:
            try:
                view, variant = self.shop.catalog.variant(session.account, line["item_id"])
            except NotFoundError:
                messages.append(_error("not_found", f"No item '{line['item_id']}' in this store: left out."))
                continue
            path, quantity = f"$.line_items[{len(line_items)}]", line["quantity"]
            item: dict[str, Any] = {"id": variant.id, "title": _title(view.product.name, variant.options)}
            item["price"] = variant.price
            if _is_url(view.product.image_url):
                item["image_url"] = view.product.image_url
            amount = variant.price * quantity
            totals = [{"type": "subtotal", "amount": amount}, {"type": "total", "amount": amount}]
            line_items.append({"id": line["id"], "item": item, "quantity": quantity, "totals": totals})
            subtotal += amount
            if not variant.available:
                messages.append(_error("item_unavailable", f"'{item['title']}' is not available.", path))
            elif variant.stock is not None and variant.stock < quantity:
                text = f"'{item['title']}' has only {max(variant.stock, 0)} in stock."
                messages.append(_error("out_of_stock", text, path + ".quantity"))
            else:
                items.append(LineItem(variant.id, quantity))
        email = state["buyer"].get("email")
        if not email:
            messages.append(_error("missing", "The buyer's email is required.", "$.buyer.email"))
        elif owner is None:
            messages.append(_error("invalid", "The buyer's email is not a usable address.", "$.buyer.email"))
        saved = owner if session.agent_key is None else None  # an agent never sees the buyer's saved data
        destinations = {a.id: a for a in (self.shop.customers.addresses(saved) if saved else [])}
        for data in state["destinations"]:
            destinations.setdefault(data["id"], Address(**data))
        selected = state["selected_destination"]
        if selected is None and len(destinations) == 1:
            selected = next(iter(destinations))
        where = "$.fulfillment.methods[0]"
        if selected is None:
            messages.append(
                _error("missing", "Choose a shipping address.", where + ".selected_destination_id")
            )
        elif selected not in destinations:
            text = f"No shipping address '{selected}'."
            messages.append(_error("not_found", text, where + ".selected_destination_id"))
            selected = None
        if state["selected_option"] not in (None, STANDARD):
            text = f"No fulfillment option '{state['selected_option']}': the one option is '{STANDARD}'."
            messages.append(_error("not_found", text, where + ".groups[0].selected_option_id"))
        if state.get("outcome"):
            messages.append(state["outcome"])
        methods = self.shop.customers.payment_methods(saved) if saved else []
        destination = destinations[selected] if selected else None
        return _Evaluation(
            line_items, items, subtotal, messages, list(destinations.values()), destination, methods
        )

    def _live(self, session: Session, evaluation: _Evaluation) -> dict[str, Any]:
        """The checkout as priced now: in ``session.status`` if that is set by what happened (escalation,
        cancel), else ``ready_for_complete`` or ``incomplete`` by what is missing now."""
        state = session.state
        status = session.status if session.status in FROZEN else READY if evaluation.ready else INCOMPLETE
        currency = self.shop.catalog.store_info(session.account)["currency"]
        line_ids = [line["id"] for line in evaluation.line_items]
        method: dict[str, Any] = {
            "id": SHIPPING_METHOD,
            "type": "shipping",
            "line_item_ids": line_ids,
            "destinations": [_destination(a) for a in evaluation.destinations],
            "groups": [
                {
                    "id": PACKAGE,
                    "line_item_ids": line_ids,
                    "options": [
                        {
                            "id": STANDARD,
                            "title": "Standard shipping",
                            "totals": [{"type": "total", "amount": 0}],
                        }
                    ],
                    "selected_option_id": STANDARD,
                }
            ],
        }
        if evaluation.destination is not None:
            method["selected_destination_id"] = evaluation.destination.id
        body: dict[str, Any] = {
            "ucp": self.envelope(),
            "id": session.id,
            "status": status,
            "currency": currency,
            "line_items": evaluation.line_items,
            "totals": [
                {"type": "subtotal", "amount": evaluation.subtotal},
                {"type": "total", "amount": evaluation.subtotal},
            ],
            "links": [],
            "expires_at": datetime.fromtimestamp(session.expires_at, UTC).isoformat(),
            "fulfillment": {"methods": [method]},
        }
        if state["buyer"]:
            body["buyer"] = state["buyer"]
        if evaluation.messages:
            body["messages"] = evaluation.messages
        chosen = state.get("instrument")
        instruments = [chosen | {"selected": True}] if chosen else []
        for saved in evaluation.methods:
            if saved.id != state.get("payment_method_id"):
                instruments.append(_offered(saved, self.handler()["id"]))
        if instruments:
            body["payment"] = {"instruments": instruments}
        return _checked(body)


class _Declined(Exception):
    """The complete request's payment cannot be used: a recoverable ``payment_failed``."""

    def __init__(self, content: str, path: str | None) -> None:
        super().__init__(content)
        self.message = _error("payment_failed", content, path)


def _new_state() -> dict[str, Any]:
    return {
        "lines": [],
        "next_line": 1,
        "buyer": {},
        "destinations": [],
        "selected_destination": None,
        "selected_option": None,
        "notes": [],
        "outcome": None,
        "instrument": None,
        "payment_method_id": None,
        "action": None,
        "order": None,
        "agent": None,  # {key, profile}: the agent credential that started it
    }


def _read_fulfillment(raw: Any) -> tuple[list[Address], str | None, str | None, list[dict[str, Any]]]:
    """The shipping destinations the platform wrote, its selections (platform ids resolved to ours), and
    messages about what could not be used."""
    if raw is None:
        return [], None, None, []
    try:
        fulfillment = FulfillmentCreateRequest.model_validate(raw)
        notes: list[dict[str, Any]] = []
        destinations: list[Address] = []
        aliases: dict[str, str] = {}
        selected = option = None
        shipping = [m for m in fulfillment.methods or [] if m.type == "shipping"]
        if len(shipping) != len(fulfillment.methods or []):
            notes.append(_warning("method_unsupported", "This store only ships: other methods are ignored."))
        for method in shipping[:1]:
            given = (method.model_extra or {}).get("destinations") or []
            if not isinstance(given, list):
                raise Refusal(400, "invalid_request", "fulfillment.methods[].destinations must be a list.")
            for raw_destination in given:
                destination = ShippingDestinationCreateRequest.model_validate(raw_destination)
                address = _address(destination)
                if address is None:
                    if not destination.id:
                        notes.append(_error("invalid", "A destination without an address or an id."))
                    continue
                if not (address.line1 and address.city and address.country):
                    text = "A shipping address needs street_address, address_locality and address_country."
                    notes.append(_error("invalid", text, "$.fulfillment.methods[0].destinations"))
                    continue
                destinations.append(address)
                if destination.id:
                    aliases[destination.id] = address.id
            selected = method.selected_destination_id
            option = next((g.selected_option_id for g in method.groups or [] if g.selected_option_id), None)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise Refusal(400, "invalid_request", f"Invalid fulfillment: {where}: {first.get('msg')}") from None
    return destinations, aliases.get(selected, selected) if selected else None, option, notes


def _address(destination: Any) -> Address | None:
    """A platform-written shipping address, with an id derived from its content (the same address sent
    again is the same destination); None for a destination that only names an id."""
    fields = {
        "line1": (destination.street_address or "").strip(),
        "line2": (destination.extended_address or "").strip(),
        "city": (destination.address_locality or "").strip(),
        "state": (destination.address_region or "").strip(),
        "zip": (destination.postal_code or "").strip(),
        "country": (destination.address_country or "").strip(),
        "name": " ".join(n.strip() for n in (destination.first_name, destination.last_name) if n).strip(),
    }
    if not any(v for k, v in fields.items() if k != "name"):
        return None
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    return Address(id="dest_" + digest, **fields)


def _destination(address: Address) -> dict[str, Any]:
    first, _, last = address.name.partition(" ")
    optional = {
        "extended_address": address.line2,
        "address_region": address.state,
        "postal_code": address.zip,
        "first_name": first,
        "last_name": last,
    }
    return {
        "id": address.id,
        "type": "shipping_address",
        "street_address": address.line1,
        "address_locality": address.city,
        "address_country": address.country,
    } | {k: v for k, v in optional.items() if v}


def _offered(method: PaymentMethod, handler_id: str) -> dict[str, Any]:
    display = {"brand": method.brand, "last_digits": method.last4}
    offered = {"id": method.id, "handler_id": handler_id, "type": method.kind}
    return offered | ({"display": {k: v for k, v in display.items() if v}} if any(display.values()) else {})


def _is_url(text: str) -> bool:
    """Whether a store's image URL is one UCP accepts (a store file may hold anything)."""
    try:
        return _URL.validate_python(text).scheme in ("http", "https")
    except ValidationError:
        return False


def _title(name: str, options: dict[str, str]) -> str:
    return f"{name} ({', '.join(f'{k} {v}' for k, v in options.items())})" if options else name


def _outcome(status: str, result: dict[str, Any] | None) -> dict[str, Any]:
    """The warning a checkout carries back to ``ready_for_complete`` when its confirmation ended unbought."""
    if status == "declined":
        return _warning("buyer_declined", "The buyer declined this order; nothing was bought.")
    if status == "failed":
        reason = (result or {}).get("error", "")
        return _warning(
            "order_failed", f"The order could not be placed; nothing was bought. {reason}".strip()
        )
    return _warning("confirmation_expired", "The buyer did not confirm in time; nothing was bought.")


def _frozen(body: dict[str, Any], status: str) -> dict[str, Any]:
    """The stored checkout moved to ``status``: no continue_url and no messages left to act on."""
    moved = {k: v for k, v in body.items() if k not in ("continue_url", "messages")}
    return moved | {"status": status}


def _with(body: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    return body | {"messages": [*body.get("messages", []), message]}


def _continue_url(base_url: str, checkout_id: str, token: str) -> str:
    return f"{base_url}/ucp/confirm/{checkout_id}#token={token}"


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` validated as a UCP checkout (with fulfillment) and serialized as the SDK does."""
    model = Checkout.model_validate(body | {"ucp": ResponseCheckoutSchema.model_validate(body["ucp"])})
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


# --- HTTP --------------------------------------------------------------------------------------------------

Agent = Annotated[
    str,
    Header(
        alias="UCP-Agent",
        max_length=4096,
        description='The platform\'s profile, RFC 8941: profile="https://platform.example/.well-known/ucp". '
        "Its shape is checked; it is not fetched.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="The first answer is replayed to the same key and body; another body is a 409.",
    ),
]


class Token(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200, description="The token in the confirmation link.")


class PersonDecision(Token):
    decision: Literal["confirm", "decline"]


# The SDK's ErrorResponse under its own name in /openapi.json: "ErrorResponse" is the OpenAI errors' there.
UcpErrorResponseDoc = create_model("UcpErrorResponse", __base__=UcpErrorResponse)


def _responses(*success: int, create: bool = False) -> dict[int | str, dict[str, Any]]:
    docs: dict[int | str, dict[str, Any]] = {
        400: {"model": UcpProtocolError, "description": "A malformed request or UCP-Agent header"},
        401: {"model": UcpProtocolError, "description": "No API key, or a bad one"},
        403: {"model": UcpProtocolError, "description": "The key's tier is not configured"},
        409: {
            "model": UcpErrorResponseDoc | UcpProtocolError,
            "description": "Finished checkout (ErrorResponse); reused idempotency key or concurrent change",
        },
        413: {"model": OpenAiErrorResponse, "description": "The body is too large"},
        429: {"model": UcpProtocolError, "description": "A rate limit is reached (see Retry-After)"},
    }
    for status in success:
        docs[status] = {"model": Checkout, "description": "The checkout session"}
    if create:
        docs[200] = {"model": UcpErrorResponseDoc, "description": "Nothing could be priced: no session"}
    else:
        docs[404] = {"model": UcpErrorResponseDoc, "description": "No such checkout session for this key"}
    return docs


def register_ucp(app: FastAPI, state: ServerState) -> None:
    """Add the UCP routes (module docstring) to ``app``."""
    checkouts = UcpCheckouts(state)
    router = APIRouter(prefix="/ucp", tags=["ucp"], route_class=_UcpRoute)

    async def answer(
        caller: Caller,
        headers: dict[str, str],
        work: Callable[[], tuple[int, dict[str, Any]]],
        operation: str = "",
        key: str | None = None,
        request: Request | None = None,
    ) -> JSONResponse:
        """Run ``work`` in a thread; a state-changing operation once per idempotency key."""
        if request is not None:
            raw, path = await request.body(), request.url.path
            status, body = await _run(lambda: checkouts.once(caller, operation, key, path, raw, work))
        else:
            status, body = await _run(work)
        return JSONResponse(body, status_code=status, headers=headers)

    @router.post(
        "/checkout-sessions", status_code=201, response_model=None, responses=_responses(201, create=True)
    )
    async def create_checkout(
        request: Request,
        body: CheckoutCreateRequest,
        ucp_agent: Agent,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Create a checkout session: line items by the store's item ids, priced from the catalog."""
        caller, headers = await _caller(state, request, ucp_agent)
        return await answer(
            caller,
            headers,
            lambda: checkouts.create(caller, body, idempotency_key),
            "create",
            idempotency_key,
            request,
        )

    @router.get("/checkout-sessions/{checkout_id}", response_model=None, responses=_responses(200))
    async def get_checkout(request: Request, checkout_id: str, ucp_agent: Agent) -> JSONResponse:
        """The checkout session now: once the person confirmed, ``completed`` with its order."""
        caller, headers = await _caller(state, request, ucp_agent)
        return await answer(caller, headers, lambda: checkouts.get(caller, checkout_id))

    @router.put("/checkout-sessions/{checkout_id}", response_model=None, responses=_responses(200))
    async def update_checkout(
        request: Request,
        checkout_id: str,
        body: CheckoutUpdateRequest,
        ucp_agent: Agent,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Replace the line items, buyer and fulfillment (send everything to keep)."""
        caller, headers = await _caller(state, request, ucp_agent)
        return await answer(
            caller,
            headers,
            lambda: checkouts.update(caller, checkout_id, body),
            "update",
            idempotency_key,
            request,
        )

    @router.post("/checkout-sessions/{checkout_id}/complete", response_model=None, responses=_responses(200))
    async def complete_checkout(
        request: Request,
        checkout_id: str,
        body: CheckoutCompleteRequest,
        ucp_agent: Agent,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Propose the order to the person: ``requires_escalation`` and a ``continue_url`` for them.
        Nothing is bought until they confirm."""
        caller, headers = await _caller(state, request, ucp_agent)
        return await answer(
            caller,
            headers,
            lambda: checkouts.complete(caller, checkout_id, body),
            "complete",
            idempotency_key,
            request,
        )

    @router.post("/checkout-sessions/{checkout_id}/cancel", response_model=None, responses=_responses(200))
    async def cancel_checkout(
        request: Request, checkout_id: str, ucp_agent: Agent, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Cancel the checkout session; a confirmation link it gave stops working."""
        caller, headers = await _caller(state, request, ucp_agent)
        return await answer(
            caller, headers, lambda: checkouts.cancel(caller, checkout_id), "cancel", idempotency_key, request
        )

    app.include_router(router)

    @app.get(
        "/.well-known/ucp", tags=["ucp"], response_model=None, responses={200: {"model": BusinessProfile}}
    )
    async def ucp_profile() -> JSONResponse:
        """The business profile: UCP version, the REST endpoint, capabilities and the payment handler."""
        body = checkouts.profile(state.settings.server.base_url)
        return JSONResponse(body, headers={"Cache-Control": "private, max-age=300"})

    @app.get("/ucp/confirm/{checkout_id}", include_in_schema=False)
    async def confirmation_page(checkout_id: str) -> HTMLResponse:
        return HTMLResponse(_page(), headers=_PAGE_HEADERS)

    @app.post("/ucp/confirm/{checkout_id}/review", include_in_schema=False)
    async def confirmation_review(checkout_id: str, given: Token) -> JSONResponse:
        base = state.settings.server.base_url
        view = await _run(lambda: _as_api(lambda: checkouts.review(checkout_id, given.token, base)))
        return JSONResponse(view, headers={"Cache-Control": "no-store"})

    @app.post("/ucp/confirm/{checkout_id}", include_in_schema=False)
    async def confirmation_decide(checkout_id: str, given: PersonDecision) -> JSONResponse:
        base, confirm = state.settings.server.base_url, given.decision == "confirm"
        view = await _run(lambda: _as_api(lambda: checkouts.decide(checkout_id, given.token, confirm, base)))
        return JSONResponse(view, headers={"Cache-Control": "no-store"})


def _as_api(work: Callable[[], T]) -> T:
    """The page's calls answer in Ponder's error shape: an unknown checkout is the same 404 as a bad link."""
    try:
        return work()
    except Refusal as refusal:
        status = 404 if refusal.status == 404 else refusal.status
        message = "This confirmation link is not valid." if status == 404 else refusal.content
        raise ApiError(status, message, "not_found_error" if status == 404 else "conflict_error") from None


def _page() -> str:
    return (resources.files("ponder") / "web" / "confirm.html").read_text(encoding="utf-8")
