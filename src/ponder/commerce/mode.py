"""The shopping preset: the store's tools, its policy and the customer bound in, under any mode.

``ShoppingPreset`` is what the conversation runner (``ponder.conversation``) applies when a turn selects
shopping (``--mode shopping`` / ``--preset shopping``, ``mode: shopping``, ``preset: shopping`` or the model
``ponder-shopping``; the mode name is an alias of auto under this preset):

* how the turn works (``commerce.assistant``): "planned" (the default) wraps the turn's mode in
  ``ShoppingAssistant`` (commerce/assistant/): the model writes a small plan, the runtime carries it out
  with the customer's tools and writes the reply; the wrapped mode, given the store's policy as its prompt
  (prompts/shopping_answer.txt) and no store tools, answers what needs words only. "tools": the mode's own
  tool loop calls the store's tools (``shopping_options``: the commerce toolset, added to any other tools,
  and prompts/shopping.txt before any system prompt given);
* hand-off tickets carry the turn's session either way;
* routing bias: under auto, a turn the router sends to Contemplating runs in Thinking instead, so the
  store's consequential tools are never called by several sub-agents at once.

Pending actions the model proposes during the turn land in ``proposals``, for the surface to put before the
person. It also opens the shop (``open_shop``) and its payment provider.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ponder.commerce.actions import settle_after
from ponder.commerce.identification import IdentifyBy
from ponder.commerce.payment_handlers import DEFAULT, PaymentHandler, RoutedProvider
from ponder.commerce.payments import PaymentProvider, TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.commerce.tools import Proposal, ShoppingTools
from ponder.errors import ConfigError
from ponder.memory.owner import Owner
from ponder.prompts import load_prompt
from ponder.tools.runner import ToolRunner

if TYPE_CHECKING:
    from ponder.config import Assistant, Settings
    from ponder.memory.embeddings import Embedder
    from ponder.modes.base import Mode
    from ponder.modes.registry import ModeOptions, ReasoningMode
    from ponder.store.database import Database

__all__ = [
    "ShoppingPreset",
    "answer_prompt",
    "load_payments",
    "load_provider",
    "open_shop",
    "planned_options",
    "shopping_options",
]


def load_provider(settings: Settings, name: str = DEFAULT) -> PaymentProvider:
    """The payment provider ``name`` (``[commerce] payment_provider``, or one of ``payment_providers``):
    the test one (its own ledger in the data dir; ``test:PATH``: the ledger at PATH, shared by the servers of
    one machine as an outside provider's books are), or MODULE:NAME called with the settings."""
    commerce = settings.commerce
    spec = commerce.payment_provider if name == DEFAULT else commerce.payment_providers[name]
    if spec.startswith("test:"):
        ledger = Path(spec.removeprefix("test:")).expanduser()
        return TestPaymentProvider(ledger, name="test" if name == DEFAULT else name)
    if spec == "test":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if name == DEFAULT:
            return TestPaymentProvider(settings.data_dir / "test-payments.db")
        return TestPaymentProvider(settings.data_dir / f"test-payments-{name}.db", name=name)
    module, _, attribute = spec.partition(":")
    try:
        factory: Any = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        where = "payment_provider" if name == DEFAULT else f"payment_providers.{name}"
        raise ConfigError(f"commerce.{where} {spec!r} cannot be loaded: {error}") from None
    provider: PaymentProvider = factory(settings)
    return provider


def load_payments(settings: Settings) -> tuple[PaymentProvider, tuple[PaymentHandler, ...]]:
    """What the shop charges through (one provider, or a ``RoutedProvider`` over several) and the handlers
    configured besides the store's own (commerce/payment_handlers.py)."""
    commerce = settings.commerce
    provider = load_provider(settings)
    if commerce.payment_providers:
        others = {name: load_provider(settings, name) for name in commerce.payment_providers}
        provider = RoutedProvider(provider, others)
    handlers = tuple(
        PaymentHandler(
            id=h.id,
            name=h.name,
            provider=h.provider,
            version=h.version,
            spec=h.spec,
            config_schema=h.config_schema,
            instrument_schemas=tuple(h.instrument_schemas),
            instruments=tuple(h.instruments),
            config=h.config,
        )
        for h in commerce.payment_handlers
    )
    return provider, handlers


def open_shop(settings: Settings, db: Database, embedder: Embedder) -> Shop:
    provider, handlers = load_payments(settings)
    shop = Shop(db, embedder, provider, handlers=handlers)
    shop.actions.ttl_s = settings.commerce.action_ttl_s
    shop.checkout.keys.lease_s = settings.commerce.checkout_lease_s
    shop.checkout.keys.wait_s = settings.commerce.checkout_wait_s
    shop.actions.settle_after_s = settle_after(settings.commerce.checkout_lease_s)
    return shop


def shopping_options(
    shop: Shop,
    owner: Owner,
    options: ModeOptions,
    proposals: list[Proposal],
    session_id: str | None = None,
    *,
    customer: ShoppingTools | None = None,
) -> ModeOptions:
    """``options`` for a shopping turn of ``owner`` in the store of ``owner.account`` (``customer``: their
    tools, built already)."""
    info = shop.catalog.store_info(owner.account)  # no store: an error that says how to load one
    toolset = (customer or ShoppingTools(shop, owner, proposals, session_id)).toolset()
    tools = [*(options.tools.tools.values() if options.tools else ()), *toolset.tools]
    prompt = load_prompt("shopping").format(store=info["name"], policy=info["policy"] or "(none given)")
    system = prompt if not options.system_prompt else f"{prompt}\n\n{options.system_prompt}"
    return dataclasses.replace(options, tools=ToolRunner(tools), system_prompt=system)


def planned_options(shop: Shop, owner: Owner, options: ModeOptions) -> ModeOptions:
    """``options`` for the words-only replies of a planned shopping turn: the store's policy as the prompt."""
    return dataclasses.replace(
        options, system_prompt=answer_prompt(shop, owner.account, options.system_prompt)
    )


def answer_prompt(shop: Shop, account: str, system_prompt: str | None = None) -> str:
    """The system prompt of a planned shopping turn's words-only replies in the store of ``account``."""
    info = shop.catalog.store_info(account)  # no store: an error that says how to load one
    prompt = load_prompt("shopping_answer").format(
        store=info["name"], policy=info["policy"] or "(none given)"
    )
    return prompt if not system_prompt else f"{prompt}\n\n{system_prompt}"


class ShoppingPreset:
    """Shopping for ``customer`` (``customer.account`` is the store) under whatever mode the turn runs."""

    name = "shopping"

    def __init__(
        self,
        shop: Shop,
        customer: Owner,
        assistant: Assistant = "planned",
        *,
        writer: Owner | None = None,
        identify_by: Sequence[IdentifyBy] = (),
    ) -> None:
        self.shop = shop
        self.customer = customer  # whom the tools act for: the writer, or whom the conversation identified
        self.writer = writer or customer  # who writes in the conversation
        self.identify_by = tuple(identify_by)
        self.assistant = assistant
        self._tools: ShoppingTools | None = None

    def apply(self, options: ModeOptions, proposals: list[Proposal], session_id: str | None) -> ModeOptions:
        """``options`` with the store's policy (and, for the "tools" assistant, its tools); actions proposed
        land in ``proposals``."""
        tools = ShoppingTools(
            self.shop,
            self.customer,
            proposals,
            session_id,
            writer=self.writer,
            identify_by=self.identify_by,
        )
        if self.assistant == "tools":
            return shopping_options(self.shop, self.customer, options, proposals, session_id, customer=tools)
        self._tools = tools
        return planned_options(self.shop, self.customer, options)

    def wrap(self, mode: Mode) -> Mode:
        """The mode the turn runs: ``mode`` inside the planned assistant, or as it is for "tools"."""
        if self._tools is None:
            return mode
        from ponder.commerce.assistant import ShoppingAssistant

        return ShoppingAssistant(mode, self._tools)

    def bias(self, mode: ReasoningMode, reason: str) -> tuple[ReasoningMode, str]:
        """The router's pick for a shopping turn: Thinking where it picked Contemplating."""
        if mode == "contemplating":
            return "thinking", f"{reason}; shopping: one agent calls the store's tools, so Thinking"
        return mode, reason
