"""Commerce: a store's catalog, customers, carts, orders, payments and recommendations, the shopping
preset and its tools, and UCP checkouts.

- model.py: StoreData and its parts, the plain shape every store format loads into
- formats/: store files: Ponder's JSON/JSONL store format and the tau2-bench retail db.json, read and
  written (tau2_dump.py); demo/: the demo store (store.json); store_export.py: a store read back out of the
  database (``ponder shop export``)
- catalog.py: importing a store, products and variants, semantic search with filters
- customers.py: customers (the account's users), addresses, payment methods; identification.py: which
  customer writes in on a support surface (by email, or name and zip), guarded against guessing
- carts.py, checkout.py (once per idempotency key; idempotency.py)
- orders.py: what may change after checkout (cancel, return, address; the store's fulfilment steps and its
  "received" step), over order_records.py (an order's rows, read as a typed OrderView), swaps.py (item
  changes and exchanges with their price difference), payment_changes.py (a pending order paid with another
  method) and refunds.py (the charges-and-refunds ledger); store_rules.py: the store's machine-checked rules
  those operations enforce
- inventory.py: the one place that prices lines and checks stock, takes and gives back stock, and debits
  and credits gift cards
- pricing.py: a cart priced with discount codes (in order, rounded down), free-shipping promotions and
  shipping options by destination country, as one pure function (price_cart); store_pricing.py: those
  rules in the store's tables, and a cart priced at the store's current prices (StorePricing)
- payments.py: the PaymentProvider port and the test provider; payment_handlers.py: the ways to pay a store
  publishes, each charged through its own provider (RoutedProvider)
- actions.py: pending actions (ActionDesk), proposed by the model and confirmed by the person with a token
  the model never sees, over action_records.py (PendingAction and its row), action_summaries.py (the text
  the person reads) and action_runs.py (carrying a confirmed action out, and the sweeper that finishes one
  whose confirmation died mid-way: a job, store/jobs.py); agent_actions.py: the tokens of orders an
  outside agent prepared, and of actions proposed in a conversation that identified its customer, held for
  the store's own surfaces; crashpoints.py: the named steps tests and
  bench/crash.py crash at
- support.py: hand-off to a person; recommend.py: recommendations blending interests and co-purchases,
  over taste.py (a person's taste for categories and attribute values) and collaborative.py (interactions,
  popularity, the ALS collaborative filter); recommendations.py: that blend fed from the store's tables
- mode.py: ShoppingPreset, the shopping preset any mode runs under (tools, policy prompt, routing bias);
  tools/: its toolset (ShoppingTools); shop.py: the parts wired together (Shop)
- ucp/: the Universal Commerce Protocol's checkout sessions (the state machine, its table, pricing and
  documents); their routes are server/ucp/

Commerce speaks no HTTP: it returns domain values (OrderView, PendingAction) and raises PonderErrors;
ponder.server maps them to statuses and wire shapes (tests/test_commerce_layering.py keeps it so).
"""

from __future__ import annotations
