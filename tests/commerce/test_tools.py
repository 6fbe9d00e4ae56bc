"""The shopping toolset: what the model sees of it (names, descriptions, parameter schemas, in order) stays
exactly as snapshotted in data/shopping_tools.json, and each toolset is bound to the customer it was built
for.

The snapshot was taken from ``shopping_toolset`` when it was one function of nested tools; a change to what
the model reads must change the snapshot on purpose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ponder.commerce.shop import Shop
from ponder.commerce.tools import Proposal, shopping_toolset
from ponder.tools.base import ToolContext

from .conftest import ANN, BOB

SNAPSHOT = Path(__file__).parent / "data" / "shopping_tools.json"


def seen_by_the_model(shop: Shop) -> dict[str, Any]:
    toolset = shopping_toolset(shop, ANN, [])
    return {
        "toolset": toolset.name,
        "tools": [
            t.definition() | {"concurrent": t.concurrent, "max_calls_per_turn": t.max_calls_per_turn}
            for t in toolset.tools
        ],
    }


def test_the_tools_the_model_sees_are_byte_identical_to_the_snapshot(shop: Shop) -> None:
    written = json.dumps(seen_by_the_model(shop), indent=2, ensure_ascii=False) + "\n"
    assert written == SNAPSHOT.read_text(encoding="utf-8")


async def test_each_toolset_is_bound_to_its_customer(shop: Shop) -> None:
    proposals: list[Proposal] = []
    ann = {t.name: t for t in shopping_toolset(shop, ANN, proposals).tools}
    bob = {t.name: t for t in shopping_toolset(shop, BOB, proposals).tools}
    await ann["add_to_cart"].invoke(ToolContext(), {"item_id": "shirt-m", "quantity": 2})
    assert [i["item_id"] for i in (await ann["view_cart"].invoke(ToolContext(), {}))["items"]] == ["shirt-m"]
    assert (await bob["view_cart"].invoke(ToolContext(), {}))["items"] == []
    assert [o["order_id"] for o in await ann["list_orders"].invoke(ToolContext(), {})] == ["#W1"]
    assert await bob["list_orders"].invoke(ToolContext(), {}) == []
    proposed = await ann["checkout"].invoke(
        ToolContext(), {"address_id": "home", "payment_method_id": "visa"}
    )
    [proposal] = proposals
    assert proposal.owner == ANN and proposal.token not in json.dumps(proposed)
