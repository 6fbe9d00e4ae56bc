"""The UCP routes: who is asking (key, agent profile, limits), the checkout operations run in a worker
thread, and their answers and refusals in UCP's shapes and HTTP statuses.

Not here: what a checkout does (commerce/ucp/checkouts.py) and the wire models (protocol.py)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
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

from ponder.commerce.ucp import Answer, Caller, UcpCheckouts, payment_handler
from ponder.commerce.ucp import shapes_2026_01_11 as released
from ponder.commerce.ucp.document import HANDLER, INCOMPLETE, READY
from ponder.commerce.ucp.document import error as error_message
from ponder.commerce.ucp.errors import (
    CHECKOUT_ERRORS,
    CheckoutNotFound,
    InvalidCheckoutRequest,
    first_problem,
)
from ponder.commerce.ucp.signing import SigningKey
from ponder.commerce.ucp.versions import (
    RELEASED,
    UcpVersion,
    VersionUnsupported,
    declared_version,
    negotiate,
)
from ponder.errors import PonderError, UserError
from ponder.server.auth import Principal, admit, authenticate
from ponder.server.errors import ApiError, from_ponder_error
from ponder.server.routes.depends import State
from ponder.server.state import ServerState
from ponder.server.ucp.protocol import PersonDecision, Refusal, Token, _responses
from ponder.store.keys import check_profile_url

_PROFILE = re.compile(r'(?:^|,)\s*profile\s*=\s*"([^"\\]*)"')
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}

T = TypeVar("T")


class _UcpRoute(APIRoute):
    """Every error of a UCP route leaves in UCP's shapes: a malformed request or UCP-Agent header is a 400
    ``{code, content}`` (not the server's OpenAI-shaped 400), and so are key and rate-limit refusals."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as err:
                return _refused(request, _invalid(err))
            except HTTPException as err:  # FastAPI's own, e.g. a body that is not JSON
                code = "invalid_request" if err.status_code == 400 else "http_error"
                refusal = Refusal(err.status_code, code, str(err.detail), headers=dict(err.headers or {}))
                return _refused(request, refusal)
            except ApiError as err:
                refusal = Refusal(err.status, err.code or err.type, err.message, headers=err.headers)
                return _refused(request, refusal)
            except Refusal as refusal:
                return _refused(request, refusal)

        return route


def _refused(request: Request, refusal: Refusal) -> Response:
    """A refusal in the shapes of the version the request is answered in (once that is known): 2026-01-11's
    errors are ``{status, messages}``."""
    if request.scope.get("state", {}).get("ucp_version") != RELEASED:
        return refusal.response()
    body = released.error_body(refusal.messages or [error_message(refusal.code, refusal.content)])
    return JSONResponse(body, status_code=refusal.status, headers=refusal.headers)


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

Agent = Annotated[
    str,
    Header(
        alias="UCP-Agent",
        max_length=4096,
        description='The platform\'s profile, RFC 8941: profile="https://platform.example/.well-known/ucp", '
        'and optionally the UCP version it speaks: version="2026-01-11" (or "2026-08-25"; none declared: '
        "the store's default, [ucp] default_version). The profile's shape is checked; it is not fetched.",
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


@dataclass(frozen=True)
class Asking:
    """Who asks a UCP route, and the rate-limit headers its answer carries."""

    who: Caller
    headers: dict[str, str]
    version: UcpVersion  # the UCP version the request is read and answered in


async def _asking(request: Request, state: State, ucp_agent: Agent) -> Asking:
    """The key's account, admitted at the price of one request, as ``Caller`` in routes/depends.py. An
    agent credential must declare the profile it was created for; without a key, an open store's agent
    (``_open_agent``). Also the answer's rate-limit headers, and the UCP version it is answered in."""
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if not authorization and api_key:
        authorization = f"Bearer {api_key}"
    open_account = state.settings.ucp.open_account
    if not authorization and open_account is not None:
        principal, client = _open_agent(request, state, open_account, profile_url(ucp_agent))
    else:
        principal = await authenticate(state, authorization, agent_ok=True)
        client = principal.key_id
    request.scope.setdefault("state", {})["account"] = principal.account
    headers = await admit(state, principal, 1.0)
    declared = profile_url(ucp_agent)
    agent = principal.agent_profile
    if agent is not None and not hmac.compare_digest(declared.encode(), agent.encode()):
        raise Refusal(403, "profile_mismatch", "This credential belongs to another platform profile.")
    version = _version(state, ucp_agent)
    request.scope["state"]["ucp_version"] = version
    who = Caller(principal.account, client, state.settings.server.base_url, agent, version)
    return Asking(who, headers, version)


def _open_agent(request: Request, state: ServerState, account: str, profile: str) -> tuple[Principal, str]:
    """An agent without a key in an open store ([ucp] open_account): limited per client address (the tier
    [ucp] open_tier), and known by its profile, which scopes its checkouts and idempotency keys."""
    address = request.client.host if request.client else "unknown"
    tier_name = state.settings.ucp.open_tier
    tier = state.settings.server.tiers.get(tier_name)
    if tier is None:
        raise Refusal(403, "unknown_tier", f"[ucp] open_tier '{tier_name}' is not in [server.tiers].")
    limits = "ucp-open:" + hashlib.sha256(address.encode()).hexdigest()[:24]
    principal = Principal(account, limits, tier_name, tier, agent_profile=profile)
    return principal, "ucp-agent:" + hashlib.sha256(profile.encode()).hexdigest()[:24]


def _version(state: ServerState, ucp_agent: str | None) -> UcpVersion:
    """The version the platform declares in ``UCP-Agent``, or the store's default; 422 for one it does not
    speak (UCP's ``version_unsupported``)."""
    try:
        return negotiate(declared_version(ucp_agent), state.settings.ucp.default_version)
    except VersionUnsupported as err:
        raise Refusal(422, err.code, str(err)) from None


async def _run(work: Callable[[], T]) -> T:
    """``work()`` in a worker thread; a checkout's refusal as UCP answers it, other errors as the server's."""
    try:
        return await asyncio.to_thread(work)
    except CHECKOUT_ERRORS as err:
        raise Refusal.of(err) from err
    except PonderError as err:
        raise from_ponder_error(err) from err


# --- HTTP --------------------------------------------------------------------------------------------------

UcpCaller = Annotated[Asking, Depends(_asking)]

M = TypeVar("M", bound=BaseModel)


async def _read(request: Request, model: type[M], released_shape: Callable[[Any], dict[str, Any]]) -> M:
    """The request's JSON body as the store's (2026-08-25) ``model``: a body in 2026-01-11's shapes is
    validated by that version's models and rewritten first (shapes_2026_01_11). 400 if it cannot be used."""
    try:
        raw = await request.json()
    except ValueError:
        raise Refusal(400, "invalid_request", "The body is not JSON.") from None
    try:
        if request.scope.get("state", {}).get("ucp_version") == RELEASED:
            raw = released_shape(raw)
        return model.model_validate(raw)
    except InvalidCheckoutRequest as err:
        raise Refusal(400, "invalid_request", str(err)) from None
    except ValidationError as err:
        raise Refusal(400, "invalid_request", f"Invalid request: {first_problem(err)}") from None


async def _create_body(request: Request, caller: UcpCaller) -> CheckoutCreateRequest:
    return await _read(request, CheckoutCreateRequest, released.create_request)


async def _update_body(request: Request, caller: UcpCaller, checkout_id: str) -> CheckoutUpdateRequest:
    return await _read(request, CheckoutUpdateRequest, lambda raw: released.update_request(raw, checkout_id))


async def _complete_body(request: Request, caller: UcpCaller) -> CheckoutCompleteRequest:
    return await _read(request, CheckoutCompleteRequest, released.complete_request)


# The bodies the routes read themselves, by their names in /openapi.json's components (server/app.py adds
# them there): the 2026-08-25 models; 2026-01-11's are that release's published schemas.
REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "UcpCheckoutCreateRequest": CheckoutCreateRequest,
    "UcpCheckoutUpdateRequest": CheckoutUpdateRequest,
    "UcpCheckoutCompleteRequest": CheckoutCompleteRequest,
}


def _body_doc(name: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{name}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


router = APIRouter(prefix="/ucp", tags=["ucp"], route_class=_UcpRoute)  # the checkout API, UCP's shapes
pages = APIRouter()  # no key: the business profile and the person's confirmation page, Ponder's shapes


async def _answer(
    state: ServerState,
    caller: Asking,
    work: Callable[[UcpCheckouts], Answer],
    operation: str = "",
    key: str | None = None,
    request: Request | None = None,
) -> JSONResponse:
    """Run ``work`` in a thread; a state-changing operation once per idempotency key. A new session is a 201,
    every other answer a 200 (a business outcome is in the document's ``messages``)."""
    who, headers, checkouts = caller.who, caller.headers, state.ucp_checkouts
    raw = await request.body() if request is not None else None

    def answered() -> Answer:
        if request is None or raw is None:
            return work(checkouts)
        return checkouts.once(who, operation, key, request.url.path, raw, lambda: work(checkouts))

    # the signing key is made on first use, in the database: read in the same worker thread as the answer
    answer, signing = await _run(lambda: (answered(), checkouts.signing))
    if caller.version != RELEASED:
        body = _signed(signing, answer.body)
        return JSONResponse(body, status_code=201 if answer.created else 200, headers=headers)
    if answer.body.get("ucp", {}).get("status") == "error":  # nothing priced: 2026-01-11 has no such document
        return JSONResponse(released.error_body(answer.body["messages"]), status_code=400, headers=headers)
    if operation == "complete" and answer.body.get("status") in (INCOMPLETE, READY):
        # Not proposed: 2026-01-11 answers a complete that cannot go on with an HTTP error saying why.
        errors = [m for m in answer.body.get("messages", []) if m.get("type") == "error"]
        status = 402 if any(m.get("code") == "payment_failed" for m in errors) else 400
        return JSONResponse(
            released.error_body(errors, answer.body["status"]), status_code=status, headers=headers
        )
    body = released.checkout(answer.body, state.settings.server.base_url, checkouts.shop.handlers)
    return JSONResponse(_signed(signing, body), status_code=201 if answer.created else 200, headers=headers)


def _signed(signing: SigningKey, body: dict[str, Any]) -> dict[str, Any]:
    """A checkout with the store's signature of its terms (AP2's ``ap2.merchant_authorization``, over the
    document as the platform reads it); an error document as it is."""
    if "id" not in body:
        return body
    return body | {"ap2": {"merchant_authorization": signing.sign(body)}}


@router.post(
    "/checkout-sessions",
    status_code=201,
    response_model=None,
    responses=_responses(201, create=True),
    openapi_extra=_body_doc("UcpCheckoutCreateRequest"),
)
async def create_checkout(
    request: Request,
    state: State,
    caller: UcpCaller,
    body: Annotated[CheckoutCreateRequest, Depends(_create_body)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Create a checkout session: line items by the store's item ids, priced from the catalog."""
    return await _answer(
        state,
        caller,
        lambda checkouts: checkouts.create(
            caller.who, body, idempotency_key, strict=caller.version == RELEASED
        ),
        "create",
        idempotency_key,
        request,
    )


@router.get("/checkout-sessions/{checkout_id}", response_model=None, responses=_responses(200))
async def get_checkout(state: State, caller: UcpCaller, checkout_id: str) -> JSONResponse:
    """The checkout session now: once the person confirmed, ``completed`` with its order."""
    return await _answer(state, caller, lambda checkouts: checkouts.get(caller.who, checkout_id))


@router.get("/orders/{order_id}", response_model=None, responses=_responses(200))
async def get_order(state: State, caller: UcpCaller, order_id: str) -> JSONResponse:
    """The order a checkout of yours became (UCP's order capability): its lines, shipping events with
    tracking, refunds and totals, as they are now."""
    checkouts = state.ucp_checkouts
    answer = await _run(lambda: checkouts.order(caller.who, order_id))
    body = answer.body if caller.version != RELEASED else released.order(answer.body)
    return JSONResponse(body, headers=caller.headers)


@router.put(
    "/checkout-sessions/{checkout_id}",
    response_model=None,
    responses=_responses(200),
    openapi_extra=_body_doc("UcpCheckoutUpdateRequest"),
)
async def update_checkout(
    request: Request,
    state: State,
    caller: UcpCaller,
    checkout_id: str,
    body: Annotated[CheckoutUpdateRequest, Depends(_update_body)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Replace the line items, buyer and fulfillment (send everything to keep)."""
    return await _answer(
        state,
        caller,
        lambda checkouts: checkouts.update(caller.who, checkout_id, body, strict=caller.version == RELEASED),
        "update",
        idempotency_key,
        request,
    )


@router.post(
    "/checkout-sessions/{checkout_id}/complete",
    response_model=None,
    responses=_responses(200),
    openapi_extra=_body_doc("UcpCheckoutCompleteRequest"),
)
async def complete_checkout(
    request: Request,
    state: State,
    caller: UcpCaller,
    checkout_id: str,
    body: Annotated[CheckoutCompleteRequest, Depends(_complete_body)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Propose the order to the person: ``requires_escalation`` and a ``continue_url`` for them.
    Nothing is bought until they confirm."""
    return await _answer(
        state,
        caller,
        lambda checkouts: checkouts.complete(caller.who, checkout_id, body),
        "complete",
        idempotency_key,
        request,
    )


@router.post("/checkout-sessions/{checkout_id}/cancel", response_model=None, responses=_responses(200))
async def cancel_checkout(
    request: Request,
    state: State,
    caller: UcpCaller,
    checkout_id: str,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Cancel the checkout session; a confirmation link it gave stops working."""
    return await _answer(
        state,
        caller,
        lambda checkouts: checkouts.cancel(caller.who, checkout_id),
        "cancel",
        idempotency_key,
        request,
    )


_PROFILE_HEADERS = {"Cache-Control": "private, max-age=300", "Vary": "UCP-Agent"}


@pages.get("/.well-known/ucp", tags=["ucp"], response_model=None, responses={200: {"model": BusinessProfile}})
async def ucp_profile(
    state: State, ucp_agent: Annotated[str | None, Header(alias="UCP-Agent", max_length=4096)] = None
) -> JSONResponse:
    """The business profile: UCP version, the REST endpoint, capabilities and the payment handler. In the
    version the ``UCP-Agent`` header declares (``version="…"``), or the store's default ([ucp]
    default_version); the 2026-08-25 profile names the 2026-01-11 one in ``supported_versions``."""
    try:
        version = negotiate(declared_version(ucp_agent), state.settings.ucp.default_version)
    except VersionUnsupported as err:
        return Refusal(422, err.code, str(err)).response()
    body = await _run(lambda: state.ucp_checkouts.profile(state.settings.server.base_url, version))
    return JSONResponse(body, headers=_PROFILE_HEADERS)


@pages.get("/.well-known/ucp/{version}", tags=["ucp"], response_model=None)
async def ucp_versioned_profile(state: State, version: str) -> JSONResponse:
    """The business profile of one UCP version alone (2026-01-11 or 2026-08-25): what a platform on that
    version negotiates against."""
    try:
        chosen = negotiate(version, state.settings.ucp.default_version)
    except VersionUnsupported as err:
        return Refusal(404, err.code, str(err)).response()
    body = await _run(lambda: state.ucp_checkouts.profile(state.settings.server.base_url, chosen, leaf=True))
    return JSONResponse(body, headers={"Cache-Control": "private, max-age=300"})


@pages.get(f"/ucp/payment-handlers/{HANDLER}", tags=["ucp"], response_model=None)
async def payment_handler_spec() -> JSONResponse:
    """What the store's payment handler is (the ``spec`` its 2026-01-11 description points to)."""
    return JSONResponse(payment_handler.SPEC, headers={"Cache-Control": "public, max-age=3600"})


@pages.get(f"/ucp/payment-handlers/{HANDLER}/config.json", tags=["ucp"], response_model=None)
async def payment_handler_config_schema() -> JSONResponse:
    """The JSON schema of the handler's ``config`` (its 2026-01-11 ``config_schema``)."""
    return JSONResponse(payment_handler.CONFIG_SCHEMA, headers={"Cache-Control": "public, max-age=3600"})


@pages.get("/ucp/confirm/{checkout_id}", include_in_schema=False)
async def confirmation_page(checkout_id: str) -> HTMLResponse:
    return HTMLResponse(_page(), headers=_PAGE_HEADERS)


@pages.post("/ucp/confirm/{checkout_id}/review", include_in_schema=False)
async def confirmation_review(state: State, checkout_id: str, given: Token) -> JSONResponse:
    base, checkouts = state.settings.server.base_url, state.ucp_checkouts
    view = await _run(lambda: _as_api(lambda: checkouts.review(checkout_id, given.token, base)))
    return JSONResponse(view, headers={"Cache-Control": "no-store"})


@pages.post("/ucp/confirm/{checkout_id}", include_in_schema=False)
async def confirmation_decide(state: State, checkout_id: str, given: PersonDecision) -> JSONResponse:
    base, confirm, checkouts = (
        state.settings.server.base_url,
        given.decision == "confirm",
        state.ucp_checkouts,
    )
    view = await _run(lambda: _as_api(lambda: checkouts.decide(checkout_id, given.token, confirm, base)))
    return JSONResponse(view, headers={"Cache-Control": "no-store"})


def _as_api(work: Callable[[], T]) -> T:
    """The page's calls answer in Ponder's error shape: an unknown checkout is the same 404 as a bad link."""
    try:
        return work()
    except CheckoutNotFound:
        raise ApiError(404, "This confirmation link is not valid.", "not_found_error") from None
    except CHECKOUT_ERRORS as err:
        refusal = Refusal.of(err)
        raise ApiError(refusal.status, refusal.content, "conflict_error") from None


def _page() -> str:
    return (resources.files("ponder") / "web" / "confirm.html").read_text(encoding="utf-8")
