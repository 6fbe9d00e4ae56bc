"""The commerce side of the Universal Commerce Protocol's checkout: checkout sessions a shopping agent
drives, over the shop engine, in UCP 2026-08-25 (the draft ``ucp-sdk`` 0.5 models, the store's own shapes)
and the released 2026-01-11. The routes, keys and HTTP answers are server/ucp/'s.

    checkouts.py   UcpCheckouts: the session state machine, the person's confirmation, idempotent replays
    sessions.py    the ``ucp_checkout_sessions`` table (optimistic versions)
    pricing.py     a session priced now (the one price/stock check) and rendered as a UCP checkout
    requests.py    what a platform sent: the buyer, fulfillment destinations, the payment instrument
    document.py    UCP's names, statuses, messages and documents, checked by the ``ucp-sdk`` models
    errors.py      the refusals, as PonderErrors carrying UCP error codes
    versions.py    the versions spoken, the one a platform declares, ``version_unsupported``
    shapes_2026_01_11.py   the store's documents in 2026-01-11's shapes, and that version's requests read
    payment_handler.py     the store's payment handler described for platforms (spec, config schema)
    signing.py     the store's ES256 key; detached JWS over JCS JSON (checkouts) and over bodies (webhooks)
    mandates.py    AP2 checkout mandates (SD-JWT+kb) verified: the person's confirmation of one checkout
    order_documents.py     the order capability: the order a checkout became, as its agent reads it
    v2026_01_11/   the 2026-01-11 models, generated from that release's schemas (scripts/ucp/generate.sh)

Nothing here imports the server, FastAPI or Starlette: operations answer documents (``Answer``) or raise
PonderErrors, and server/ucp/ maps them to HTTP statuses and bodies.
"""

from ponder.commerce.ucp.checkouts import Answer, Caller, UcpCheckouts
from ponder.commerce.ucp.document import VERSION

__all__ = ["VERSION", "Answer", "Caller", "UcpCheckouts"]
