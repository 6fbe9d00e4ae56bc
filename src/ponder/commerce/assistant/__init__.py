"""The planned shopping assistant: the model plans, the runtime acts and writes the reply.

A shopping turn on a small model used to read sixteen tool schemas (3,500 prompt tokens) and often called
the wrong tool or wrote an answer the store's results did not hold. Here the model only reads the
conversation and writes a plan (an intent and its slots, as a JSON object under a grammar); the runtime
resolves what the plan refers to, calls the store and writes the reply from what it returned.

- plan.py: ``Plan``, the intents, ``PLAN_SCHEMA``, and the slots read from the customer's own words
- table.py: what the turn can refer to (products shown last, cart, orders, addresses, payment methods)
- intents.py: the intent the customer's words make plain, where the model's plan says otherwise
- resolve.py: ``Resolver``: what a plan refers to (a product, its options, an order and its items, an
  address, a payment method, a quantity), found in the table and the customer's words, or a question
- execute.py: ``Executor``, one method per intent: resolve, call the store's tools (proposals only, for
  anything that spends money or changes an order), write the reply
- reply.py: the wording of each kind of fact (product lines, the cart, an order, a proposal)
- offers.py: the discount codes and the shipping choice a checkout takes, read from the customer's words
- introductions.py: a person saying who they are, in a store that identifies customers (read, not planned)
- mode.py: ``ShoppingAssistant``, the mode that runs the three steps around the turn's own mode

Selected by ``commerce.assistant = "planned"`` (the default; ``ponder.commerce.mode.ShoppingPreset``).
"""

from ponder.commerce.assistant.mode import ShoppingAssistant

__all__ = ["ShoppingAssistant"]
