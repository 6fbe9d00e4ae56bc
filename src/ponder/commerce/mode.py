"""The shopping mode: auto's reasoning modes with the store's tools, its policy, and the customer bound in.

``shopping_options`` turns a turn's ``ModeOptions`` into the shopping mode's: the commerce toolset for
``owner`` (added to any other tools), and the system prompt with the store's name and policy
(prompts/shopping.txt) before any system prompt given. Pending actions the model proposes during the turn
land in ``proposals``, for the CLI, the server or the web page to put before the person.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Any

from ponder.commerce.actions import settle_after
from ponder.commerce.payments import PaymentProvider, TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.commerce.tools import Proposal, shopping_toolset
from ponder.errors import ConfigError
from ponder.memory.owner import Owner
from ponder.prompts import load_prompt
from ponder.tools.runner import ToolRunner

if TYPE_CHECKING:
    from ponder.config import Settings
    from ponder.memory.embeddings import Embedder
    from ponder.modes import ModeOptions
    from ponder.store.database import Database

__all__ = ["load_provider", "open_shop", "shopping_options"]


def load_provider(settings: Settings) -> PaymentProvider:
    """The configured payment provider: the test one, or MODULE:NAME called with the settings."""
    spec = settings.commerce.payment_provider
    if spec == "test":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return TestPaymentProvider(settings.data_dir / "test-payments.db")
    module, _, name = spec.partition(":")
    try:
        factory: Any = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"commerce.payment_provider {spec!r} cannot be loaded: {error}") from None
    provider: PaymentProvider = factory(settings)
    return provider


def open_shop(settings: Settings, db: Database, embedder: Embedder) -> Shop:
    shop = Shop(db, embedder, load_provider(settings))
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
) -> ModeOptions:
    """``options`` for a shopping turn of ``owner`` in the store of ``owner.account``."""
    info = shop.catalog.store_info(owner.account)  # no store: an error that says how to load one
    toolset = shopping_toolset(shop, owner, proposals, session_id)
    tools = [*(options.tools.tools.values() if options.tools else ()), *toolset.tools]
    prompt = load_prompt("shopping").format(store=info["name"], policy=info["policy"] or "(none given)")
    system = prompt if not options.system_prompt else f"{prompt}\n\n{options.system_prompt}"
    return dataclasses.replace(options, tools=ToolRunner(tools), system_prompt=system)
