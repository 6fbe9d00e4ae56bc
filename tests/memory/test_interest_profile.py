"""The profile's arithmetic on its own, without a database (test_interests.py checks it through the store):
decay by half-life, netting to likes and dislikes with their own shares, and the drivers kept."""

from __future__ import annotations

import pytest

from ponder.memory.interest_events import DAY
from ponder.memory.interest_profile import (
    DRIVERS,
    HALF_LIFE_DAYS,
    KIND_WEIGHTS,
    passage_text,
    split_liked,
    sum_events,
)

NOW = 1_700_000_000.0


def test_events_net_to_likes_and_dislikes_each_with_shares_that_sum_to_one() -> None:
    rows = [  # (kind, item, category, text, at) in time order
        ("purchase", "boots", "shoes", "", NOW - HALF_LIFE_DAYS * DAY),
        ("view", "knife", "kitchen", "", NOW - 10),
        ("dismiss", "knife", "kitchen", "", NOW - 5),
        ("like", "socks", "", "wool socks", NOW),
    ]
    categories, items, counts = sum_events(rows, NOW)
    assert dict(counts) == {"purchase": 1, "view": 1, "dismiss": 1, "like": 1}
    assert items["boots"].score == pytest.approx(KIND_WEIGHTS["purchase"] / 2)  # one half-life old
    liked, disliked = split_liked(items)
    assert [i.name for i in liked] == ["boots", "socks"]  # 2.5 then 2.0
    assert sum(i.weight for i in liked) == pytest.approx(1.0)
    assert [i.name for i in disliked] == ["knife"] and disliked[0].weight == pytest.approx(1.0)
    assert disliked[0].score == pytest.approx(KIND_WEIGHTS["view"] + KIND_WEIGHTS["dismiss"], abs=1e-3)
    liked_categories, disliked_categories = split_liked(categories)
    assert [c.name for c in liked_categories] == ["shoes"] and [c.name for c in disliked_categories] == [
        "kitchen"
    ]
    assert passage_text(items["socks"], "socks") == "wool socks"
    assert passage_text(items["boots"], "boots") == "shoes: boots"


def test_an_item_keeps_its_largest_contributions_as_drivers() -> None:
    rows = [("view", "lamp", "home", "", NOW - i) for i in range(5)] + [("save", "lamp", "home", "", NOW)]
    _, items, _ = sum_events(rows, NOW)
    (lamp,), _ = split_liked(items)
    assert lamp.events == 6 and len(lamp.drivers) == DRIVERS
    assert lamp.drivers[0].kind == "save"  # the largest first
