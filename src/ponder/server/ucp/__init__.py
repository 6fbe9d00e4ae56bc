"""The Universal Commerce Protocol's checkout over REST, so standard shopping agents can drive a Ponder
store: in UCP 2026-08-25 (the draft), and in the released 2026-01-11.

    GET  /.well-known/ucp                       the business profile (no key): REST endpoint {server}/ucp,
                                                checkout and extensions, the provider's payment handler;
                                                {server} is ``server.public_base_url``, never the Host header
    GET  /.well-known/ucp/{version}             one version's own profile (2026-01-11, 2026-08-25)
    GET  /ucp/orders/{id}                       the order a checkout of the caller's became (order capability)
    GET  /ucp/payment-handlers/dev.ponder.payment_token[/config.json]   the handler's spec, config schema
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

**Versions.** A platform declares its UCP version in ``UCP-Agent`` (``version="2026-01-11"``); one that
declares none is answered in ``[ucp] default_version``; any other is a 422 ``version_unsupported``
(commerce/ucp/versions.py). A 2026-01-11 request body is validated by that release's models and rewritten
into the store's shapes, and every answer rewritten back (commerce/ucp/shapes_2026_01_11.py); 2026-01-11's
errors are HTTP errors with ``{status, messages}``, where an answer that priced nothing is a 400.

**Without a key.** ``[ucp] open_account`` opens the store to any agent: a call without a key shops in that
account as an agent known by its ``UCP-Agent`` profile (its checkouts and idempotency keys are its own),
limited per client address by ``[ucp] open_tier``. Unset (the default), every call needs a key.

Not here: validating the agent's profile named by ``UCP-Agent`` on each request (its shape is checked; it is
fetched only to deliver order webhooks, webhooks.py), capability negotiation (it answers everything it
supports: checkout, fulfillment, discount, buyer consent, AP2 mandates, order), verifying request
signatures, tax, identity linking (OAuth), and terms/privacy links (Ponder has no such pages: ``links`` is
empty). Discounts, shipping prices and consent are the commerce engine's (commerce/ucp/).

Where it lives: this package holds the HTTP side; the checkout-session state machine, its table, pricing and
documents are commerce/ucp/, which knows nothing of HTTP.

    webhooks.py   order events POSTed to the agent's platform, signed, from the job table (order watchers)
    router.py     the routes: who is asking (key, agent profile, limits), the checkout operations run in a
                  worker thread, their answers and refusals in UCP's shapes and HTTP statuses
    protocol.py   the wire models: the protocol error shape, ``Refusal`` (a checkout's refusal as an HTTP
                  answer), the confirmation page's bodies, each route's documented answers
"""

from ponder.server.ucp.router import pages, router

__all__ = ["ROUTERS"]

ROUTERS = (router, pages)  # create_app includes them
