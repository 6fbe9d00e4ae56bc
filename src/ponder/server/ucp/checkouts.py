"""UCP checkout sessions: storage, pricing, the status machine and idempotency."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ucp_sdk.models.schemas.profile import BusinessSchema as BusinessProfile  # type: ignore[import-untyped]

from ponder.commerce.actions import money
from ponder.commerce.checkout import MAX_QUANTITY, LineItem
from ponder.commerce.customers import write_customers
from ponder.commerce.idempotency import IdempotencyKeys, Outcome
from ponder.commerce.model import Address, Customer, PaymentMethod
from ponder.commerce.shop import Shop
from ponder.errors import ConflictError, NotFoundError, PaymentDeclinedError, UserError
from ponder.memory.owner import Owner, check_name
from ponder.server.state import ServerState
from ponder.server.ucp.document import (
    CANCELED,
    CHECKOUT,
    COMPLETED,
    ESCALATION,
    FINISHED,
    FROZEN,
    FULFILLMENT,
    HANDLER,
    IN_PROGRESS,
    INCOMPLETE,
    MAX_LINES,
    PACKAGE,
    READY,
    SESSION_TTL_S,
    SHIPPING_METHOD,
    SHOPPING,
    STANDARD,
    VERSION,
    _checked,
    _continue_url,
    _destination,
    _error,
    _frozen,
    _is_url,
    _not_found,
    _offered,
    _outcome,
    _read_fulfillment,
    _title,
    _with,
    error_response,
)
from ponder.server.ucp.protocol import Refusal
from ponder.store.database import sql

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _user_of(email: str | None) -> str | None:
    """The user a buyer email names, or None if it is not a usable email."""
    user = (email or "").strip().lower()
    if not _EMAIL.fullmatch(user):
        return None
    try:
        return check_name(user, "user name")
    except UserError:
        return None


@dataclass(frozen=True)
class Caller:
    account: str  # the store
    client: str  # the API key's id: the scope of idempotency keys, and of an agent's checkouts
    base_url: str  # this server's configured public base URL (server.public_base_url), no trailing slash
    agent: str | None = None  # an outside agent's credential: its platform profile; None: an account key


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
