"""The UCP checkout-session state machine: create, read, update, complete and cancel a checkout a platform
drives, the person's confirmation of what ``complete`` proposed, and idempotent replays.

A checkout moves ``incomplete`` <-> ``ready_for_complete`` by what is missing, then on ``complete`` to
``requires_escalation`` (a pending action waits for the person), ``complete_in_progress`` (confirmed, the
order being placed) and ``completed``; or ``canceled``. Reads derive the status from the pending action.
Each operation answers a UCP document (``Answer``) or raises a ``PonderError`` (errors.py).

Not here: HTTP (statuses, headers, who the key is: server/ucp/), reading the platform's request bodies
(requests.py), pricing and rendering (pricing.py), the table (sessions.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ponder.commerce.actions import PendingAction, money
from ponder.commerce.consent import ConsentLedger
from ponder.commerce.customers import write_customers
from ponder.commerce.idempotency import IdempotencyKeys, Outcome
from ponder.commerce.model import Customer, PaymentMethod
from ponder.commerce.shop import Shop
from ponder.commerce.ucp import document as doc
from ponder.commerce.ucp import shapes_2026_01_11 as released
from ponder.commerce.ucp.document import (
    CANCELED,
    COMPLETED,
    ESCALATION,
    FINISHED,
    FROZEN,
    IN_PROGRESS,
    INCOMPLETE,
    MAX_LINES,
    READY,
    SESSION_TTL_S,
)
from ponder.commerce.ucp.errors import (
    CHECKOUT_ERRORS,
    CheckoutConflict,
    CheckoutFinished,
    CheckoutNotFound,
    InvalidCheckoutRequest,
    OrderNotFound,
    UnsellableLines,
    error_value,
    raise_stored,
)
from ponder.commerce.ucp.mandates import MandateRefused, Mandates, Terms
from ponder.commerce.ucp.order_documents import ORDER_EVENT, order_document
from ponder.commerce.ucp.pricing import LINE_PROBLEMS, Evaluation, evaluate, render
from ponder.commerce.ucp.requests import (
    Declined,
    buyer_user,
    read_codes,
    read_consent,
    read_fulfillment,
    read_instrument,
)
from ponder.commerce.ucp.sessions import Session, SessionStore, new_state
from ponder.commerce.ucp.signing import SigningKey
from ponder.commerce.ucp.versions import RELEASED, UcpVersion
from ponder.errors import ConflictError, NotFoundError, PaymentDeclinedError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database

__all__ = ["Answer", "Caller", "UcpCheckouts"]

# A quantity past this is a malformed request; below it, more than the stock or than an order takes
# (checkout.MAX_QUANTITY) is the line's own problem, said in its message (pricing.price_lines).
MAX_REQUESTED = 1_000_000


@dataclass(frozen=True)
class Caller:
    account: str  # the store
    client: str  # the API key's id: the scope of idempotency keys, and of an agent's checkouts
    base_url: str  # this server's configured public base URL (server.public_base_url), no trailing slash
    agent: str | None = None  # an outside agent's credential: its platform profile; None: an account key
    version: str = doc.VERSION  # the UCP version the caller reads (its order events are sent in it)


@dataclass(frozen=True)
class Answer:
    """What an operation answers: a UCP checkout, or an ``ErrorResponse`` when a create priced nothing.
    ``created``: a new checkout session was stored."""

    body: dict[str, Any]
    created: bool = False


class UcpCheckouts:
    """UCP checkout sessions over the shop engine (module docstring).

    Every method is synchronous (SQL and the shop's stores): the server runs them in a worker thread.
    ``shop`` is called when a request needs it (the server opens its shop lazily)."""

    def __init__(
        self,
        db: Database,
        shop: Callable[[], Shop],
        *,
        mandate_issuers: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        self.db = db
        self._shop = shop
        self.keys = IdempotencyKeys(db)
        self.sessions = SessionStore(db)
        self.mandates = Mandates(db, mandate_issuers or {})
        self._signing: SigningKey | None = None

    @property
    def shop(self) -> Shop:
        return self._shop()

    @property
    def signing(self) -> SigningKey:
        """The store's UCP signing key (made on first use, shared through the database)."""
        if self._signing is None:
            self._signing = SigningKey.of(self.db)
        return self._signing

    def profile(self, base_url: str, version: UcpVersion, *, leaf: bool = False) -> dict[str, Any]:
        """The business profile in ``version``. The current version's (the draft's) names the released
        version's own profile in ``supported_versions``, unless ``leaf``: a version's profile alone."""
        handlers = self.shop.handlers
        if version == RELEASED:
            return released.profile(base_url, handlers, self.signing.public_jwk())
        older: dict[str, str] | None = None if leaf else {RELEASED: f"{base_url}/.well-known/ucp/{RELEASED}"}
        return doc.profile(base_url, handlers, older)

    # --- idempotency ----------------------------------------------------------------------------------

    def once(
        self,
        caller: Caller,
        operation: str,
        key: str | None,
        path: str,
        raw: bytes,
        work: Callable[[], Answer],
    ) -> Answer:
        """``work()``, or the first outcome for this key and body (an answer, or a refusal raised again);
        another body with the key is a ``CheckoutConflict`` (``idempotency_conflict``).

        The outcome is stored after the work's own transactions: a crash in between makes the retry do the
        work again (a second session or proposal nobody holds), never a second order."""
        if key is None:
            return work()
        owner = Owner(caller.account, "ucp:" + caller.client)
        name = f"{operation}:{key}"
        try:
            claim = self.keys.claim(owner, name, {"path": path, "sha256": hashlib.sha256(raw).hexdigest()})
        except ConflictError as err:
            code = "request_in_progress" if err.retry_after else "idempotency_conflict"
            raise CheckoutConflict(str(err), code=code, retry_after=err.retry_after) from None
        except UserError as err:
            raise InvalidCheckoutRequest(str(err)) from None
        if isinstance(claim, Outcome):
            return _replayed(claim)
        try:
            answer = work()
            value, failed = {"body": answer.body, "created": answer.created}, False
        except CHECKOUT_ERRORS as err:
            if isinstance(err, CheckoutConflict) and err.retry_after:  # a passing state: a retry may succeed
                self.keys.release(owner, name)
                raise
            value, failed = error_value(err), True
        except BaseException:
            self.keys.release(owner, name)
            raise
        with self.db.transaction(lock=self.keys.lock_name(owner, name)) as db:
            earlier = self.keys.finish(db, owner, name, value, failed=failed)
        return _replayed(earlier or Outcome("failed" if failed else "done", value))

    # --- the operations -------------------------------------------------------------------------------

    def create(self, caller: Caller, request: Any, key: str | None = None, *, strict: bool = False) -> Answer:
        """A new checkout session of the request's lines. ``strict``: a line that cannot be bought as asked
        (unknown, unavailable, short of stock) refuses the request (``UnsellableLines``) instead of being
        a message of the checkout (2026-01-11 answers such a request 400)."""
        try:
            self.shop.catalog.store_info(caller.account)
        except NotFoundError as err:
            return Answer(doc.error_response("not_found", str(err)))
        now = time.time()
        checkout_id = "chk_" + secrets.token_hex(16)
        session = Session(
            caller.account, checkout_id, "", INCOMPLETE, new_state(), {}, 0, now + SESSION_TTL_S
        )
        if caller.agent is not None:  # an outside agent's: never shown the buyer's saved data
            session.state["agent"] = {"key": caller.client, "profile": caller.agent}
        lines = [(None, line.item.id, line.quantity) for line in request.line_items]
        self._apply(session, lines, request.buyer, request.model_extra or {})
        evaluation = evaluate(self.shop, session)
        if strict:
            _refuse_unsellable(evaluation)
        if not evaluation.items:
            code = "out_of_stock" if evaluation.line_items else "item_unavailable"
            why = [m for m in evaluation.messages if m["type"] == "error" and m["code"] in LINE_PROBLEMS]
            return Answer(
                doc.error_response(code, "None of the requested items can be bought here now.", why)
            )
        session.status = READY if evaluation.ready else INCOMPLETE
        session.body = render(self.shop, session, evaluation)
        if session.owner is not None:  # the buyer's first use makes them a user of the account
            self.shop.customers.users.ensure(session.owner)
            self._withdrawals(session)
        self.sessions.insert(session, key, now)
        return Answer(session.body, created=True)

    def get(self, caller: Caller, checkout_id: str) -> Answer:
        return Answer(self.current(caller, checkout_id, caller.base_url)[1])

    def order_event(self, checkout_id: str, order_id: str, base_url: str) -> tuple[Session, dict[str, Any]]:
        """For an order event (``ORDER_EVENT``): the checkout session that became ``order_id``, and the order
        as it is now (2026-08-25's shapes)."""
        session = self.sessions.read(None, checkout_id)
        order = self.shop.orders.get(session.customer(), order_id)
        return session, order_document(order, checkout_id, base_url)

    def order(self, caller: Caller, order_id: str) -> Answer:
        """The order a checkout of the caller's became (UCP's order capability), as it is now: to anyone
        else, and for an order no UCP checkout made, ``OrderNotFound``."""
        checkout_id = self.sessions.of_order(caller.account, order_id)
        if checkout_id is None:
            raise OrderNotFound(order_id)
        try:
            session, _ = self.current(caller, checkout_id, caller.base_url)
        except CheckoutNotFound:
            raise OrderNotFound(order_id) from None
        order = self.shop.orders.get(session.customer(), order_id)
        return Answer(order_document(order, checkout_id, caller.base_url))

    def update(self, caller: Caller, checkout_id: str, request: Any, *, strict: bool = False) -> Answer:
        """Replace the checkout's lines, buyer and fulfillment; ``strict`` as for ``create`` (nothing is
        changed then)."""
        session, body = self._changeable(caller, checkout_id, "updated")
        if session.status == IN_PROGRESS:
            text = "The order is being placed; try later."
            return Answer(doc.with_message(body, doc.error("complete_in_progress", text)))
        lines = [(line.id, line.item.id, line.quantity) for line in request.line_items]
        self._apply(session, lines, request.buyer, request.model_extra or {})
        evaluation = evaluate(self.shop, session)
        if strict:
            _refuse_unsellable(evaluation)
        session.status = READY if evaluation.ready else INCOMPLETE
        if session.owner is not None:
            self.shop.customers.users.ensure(session.owner)
            self._withdrawals(session)
        return Answer(self.sessions.save(session, render(self.shop, session, evaluation)))

    def complete(self, caller: Caller, checkout_id: str, request: Any) -> Answer:
        session, body = self.current(caller, checkout_id, caller.base_url)
        if session.status in FINISHED:
            raise CheckoutFinished(f"This checkout is {session.status}.")
        if session.status in (ESCALATION, IN_PROGRESS):  # already proposed: the same answer
            return Answer(body)
        evaluation = evaluate(self.shop, session)
        if not evaluation.ready or evaluation.destination is None:
            return Answer(render(self.shop, session, evaluation))
        owner = session.customer()
        mandate = _mandate(request)
        try:
            if mandate is not None:  # the person's own signed confirmation of exactly this checkout
                terms = Terms.of(render(self.shop, session, evaluation))
                base = caller.base_url
                self.mandates.verify(
                    mandate, profile=caller.agent, store=self.signing, base_url=base, terms=terms
                )
            proposed = self._propose(owner, session, evaluation, request.payment, caller.version)
            instrument, method, action, token = proposed
        except MandateRefused as refused:
            message = doc.error(refused.code, str(refused), "$.ap2.checkout_mandate")
            return Answer(doc.with_message(render(self.shop, session, evaluation), message))
        except Declined as declined:
            return Answer(doc.with_message(render(self.shop, session, evaluation), declined.message))
        except PaymentDeclinedError as err:
            message = doc.error("payment_failed", str(err), "$.payment")
            return Answer(doc.with_message(render(self.shop, session, evaluation), message))
        except ConflictError as err:
            message = doc.error("out_of_stock", str(err), "$.line_items")
            return Answer(doc.with_message(render(self.shop, session, evaluation), message))
        except UserError as err:
            message = doc.error("invalid", str(err))
            return Answer(doc.with_message(render(self.shop, session, evaluation), message))
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
        body = render(self.shop, session, evaluation)
        if caller.agent is None:  # the store's own app: it relays its user's decision, as /v1/actions
            body["continue_url"] = doc.continue_url(caller.base_url, session.id, token)
            where = "at continue_url"
        else:  # an outside agent never holds the token: the person confirms in the store's own app
            body["continue_url"] = f"{caller.base_url}/ucp/confirm/{session.id}"
            where = "in the store's own app (the agent cannot confirm it); read this checkout for the outcome"
        body["messages"] = [
            doc.error(
                "buyer_confirmation_required",
                f"The buyer confirms this order themselves, {where}. {action.summary}",
                severity="requires_buyer_review",
            )
        ]
        try:
            saved = self.sessions.save(session, doc.checked(body))
        except CheckoutConflict:
            self.shop.actions.decline(owner, action.id, token)  # nobody may confirm what was not saved
            raise
        if mandate is None:
            return Answer(saved)
        try:  # the mandate is the person's confirmation: used once, then the order is placed at once
            self.mandates.consume(mandate, session.account, session.id)
            self.shop.actions.confirm(owner, action.id, token)
        except MandateRefused as refused:
            self.shop.actions.decline(owner, action.id, token)
            message = doc.error(refused.code, str(refused), "$.ap2.checkout_mandate")
            return Answer(doc.with_message(self.current(caller, checkout_id, caller.base_url)[1], message))
        except UserError:
            pass  # declined, sold out: the checkout read below says so (back to ready_for_complete)
        return Answer(self.current(caller, checkout_id, caller.base_url)[1])

    def _propose(
        self, owner: Owner, session: Session, evaluation: Evaluation, payment: Any, version: str
    ) -> tuple[dict[str, Any], str | PaymentMethod, PendingAction, str]:
        """Propose the order as ``owner``'s pending action: the instrument as echoed, what pays, the action
        and its token."""
        destination = evaluation.destination
        assert destination is not None  # complete() checked it
        instrument, method = read_instrument(
            payment, self.shop.handlers, {m.id for m in evaluation.methods}, session.id
        )
        check = getattr(self.shop.provider, "check", None)  # a provider may vet a token before the person
        if check is not None and isinstance(method, PaymentMethod):
            check(method.token)  # PaymentDeclinedError: not worth asking the person about
        if session.agent_key is not None:
            # An outside agent's address and card are the order's alone: kept in the pending action,
            # recorded on the order and charged if the person confirms, never saved to their account.
            if isinstance(method, str):
                raise Declined("Pay with a provider token: saved methods are not offered.", "$.payment")
            watcher = {"account": session.account, "checkout_id": session.id, "version": version}
            action, token = self.shop.actions.propose_checkout(
                owner,
                items=evaluation.items,
                address=destination,
                method=method,
                codes=evaluation.applied_codes,
                shipping_option=evaluation.shipping_option,
                watchers=[{"kind": ORDER_EVENT, "payload": watcher}],  # its agent hears of the order
                consent=session.state.get("consent") or {},
            )
            return instrument, method, action, token
        # The store's own app: saved for its user, as its checkout always did.
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
            codes=evaluation.applied_codes,
            shipping_option=evaluation.shipping_option,
            consent=session.state.get("consent") or {},
        )
        return instrument, method, action, token

    def cancel(self, caller: Caller, checkout_id: str) -> Answer:
        session, body = self._changeable(caller, checkout_id, "canceled")
        if session.status == IN_PROGRESS:
            raise CheckoutConflict(
                "The order is being placed; it cannot be canceled.", code="complete_in_progress"
            )
        session.status = CANCELED
        body = render(self.shop, session, evaluate(self.shop, session))
        body["messages"] = [{"type": "info", "code": "canceled", "content": "The checkout was canceled."}]
        return Answer(self.sessions.save(session, doc.checked(body)))

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
            raise CheckoutNotFound(checkout_id)
        if session.agent_key is not None:  # a link is no consent: the person confirms in the store's app
            raise CheckoutNotFound(checkout_id)
        return session, body, action

    # --- reading and deriving ----------------------------------------------------------------------------

    def current(
        self, caller: Caller | None, checkout_id: str, base_url: str
    ) -> tuple[Session, dict[str, Any]]:
        """The session and its checkout now: what the person decided, and expiry, applied and saved.
        ``caller`` must be the one who may see it (None: the person's page, which has no key): an agent's
        checkout is its own credential's alone, and an account key's is the account keys' alone."""
        for _ in range(5):
            session = self.sessions.read(caller.account if caller else None, checkout_id)
            if caller is not None and session.agent_key != (caller.client if caller.agent else None):
                raise CheckoutNotFound(checkout_id)
            moved = self._transition(session, base_url)
            if moved is None:
                if session.status in FROZEN:
                    return session, session.body | {"ucp": doc.envelope(self.shop.handlers)}
                return session, render(self.shop, session, evaluate(self.shop, session))
            try:
                return session, self.sessions.save(session, moved)
            except CheckoutConflict:
                continue  # another request moved it first: read it again
        raise CheckoutConflict("The checkout is changing; retry.", retry_after=1.0)

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
                return doc.frozen(session.body, IN_PROGRESS)
            if status == "pending" and not expired and session.expires_at >= now:
                return None
            if status == "pending":  # the person did not answer in time: the link stops working
                if not self._withdraw(session):
                    return self._transition(session, base_url)
                status = "expired"
            action.pop("token", None)
            session.state["action"] = action
            session.state["outcome"] = doc.outcome(status, result)
        if session.expires_at < now:
            session.status = CANCELED
            body = render(self.shop, session, evaluate(self.shop, session))
            body["messages"] = [{"type": "info", "code": "expired", "content": "The checkout expired."}]
            return doc.checked(body)
        if session.status in (ESCALATION, IN_PROGRESS):
            evaluation = evaluate(self.shop, session)
            session.status = READY if evaluation.ready else INCOMPLETE
            return render(self.shop, session, evaluation)
        return None

    def _completed(self, session: Session, order_id: str, base_url: str) -> dict[str, Any]:
        session.status = COMPLETED
        session.state["order"] = {"id": order_id}
        (session.state.get("action") or {}).pop("token", None)
        body = doc.frozen(session.body, COMPLETED)
        body["order"] = {"id": order_id, "permalink_url": f"{base_url}/ucp/confirm/{session.id}"}
        return doc.checked(body)

    def _changeable(self, caller: Caller, checkout_id: str, what: str) -> tuple[Session, dict[str, Any]]:
        """The session, no longer waiting for the person (its action declined) unless it is being placed."""
        for _ in range(5):
            session, body = self.current(caller, checkout_id, caller.base_url)
            if session.status in FINISHED:
                raise CheckoutFinished(f"This checkout is {session.status}: it cannot be {what}.")
            if session.status != ESCALATION or self._withdraw(session):
                return session, body
        raise CheckoutConflict("The checkout is changing; retry.", retry_after=1.0)

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

    # --- what the platform asked for ------------------------------------------------------------------------

    def _withdrawals(self, session: Session) -> None:
        """A consent the platform withdraws for the buyer is theirs at once (granting waits for the person's
        confirmation of the order: commerce/consent.py)."""
        if session.owner is not None and session.state.get("consent"):
            ConsentLedger(self.db).withdraw(session.owner, session.state["consent"], "platform", session.id)

    def _apply(
        self,
        session: Session,
        lines: Sequence[tuple[str | None, str, int]],
        buyer: Any,
        extensions: dict[str, Any],
    ) -> None:
        """Replace what the platform asked for (UCP updates are full replacements); discount codes are
        replaced when ``discounts.codes`` is sent (an empty list clears them) and kept otherwise."""
        if len(lines) > MAX_LINES:
            raise InvalidCheckoutRequest(f"A checkout takes at most {MAX_LINES} line items.")
        if any(quantity > MAX_REQUESTED for _, _, quantity in lines):  # a bound on the request itself
            raise InvalidCheckoutRequest(f"A line item's quantity is at most {MAX_REQUESTED}.")
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
        state["consent"] = read_consent((buyer.model_extra or {}).get("consent") if buyer else None)
        user = buyer_user(state["buyer"].get("email")) or ""
        if user != session.user:  # another buyer: the instrument chosen was the previous one's
            state["instrument"] = state["payment_method_id"] = None
        session.user = user
        if "discounts" in extensions:
            state["codes"] = read_codes(extensions["discounts"])
        destinations, selected, option, notes = read_fulfillment(extensions.get("fulfillment"))
        state["destinations"] = [asdict(d) for d in destinations]
        state["selected_destination"] = selected
        state["selected_option"] = option
        state["notes"] = notes
        state["outcome"] = None


def _mandate(request: Any) -> str | None:
    """The AP2 checkout mandate a complete request carries (``ap2.checkout_mandate``), if any."""
    ap2 = (request.model_extra or {}).get("ap2")
    mandate = ap2.get("checkout_mandate") if isinstance(ap2, dict) else None
    if mandate is not None and (not isinstance(mandate, str) or len(mandate) > 64 * 1024):
        raise InvalidCheckoutRequest("ap2.checkout_mandate must be an SD-JWT+kb string (at most 64 KiB).")
    return mandate


def _refuse_unsellable(evaluation: Evaluation) -> None:
    problems = [m for m in evaluation.messages if m["type"] == "error" and m["code"] in LINE_PROBLEMS]
    if problems:
        raise UnsellableLines(problems)


def _replayed(outcome: Outcome) -> Answer:
    """A stored outcome as the answer it was, or the refusal raised again. Keys finished before the
    commerce/server split stored the HTTP answer (``status``, ``body``): read those too."""
    value = outcome.value
    if "status" in value:
        status, body = int(value["status"]), value["body"]
        if status < 400:
            return Answer(body, created=status == 201)
        message = str(body.get("content") or (body.get("messages") or [{}])[0].get("content", ""))
        code = str(body.get("code") or (body.get("messages") or [{}])[0].get("code", ""))
        value = {"error": _LEGACY.get(code, "invalid" if status == 400 else "conflict"), "message": message}
        value["code"] = code
    if outcome.state == "failed" or "error" in value:
        raise_stored(value)
    return Answer(value["body"], created=bool(value.get("created")))


_LEGACY = {"not_found": "not_found", "checkout_finished": "finished"}  # a stored refusal's code -> its kind
