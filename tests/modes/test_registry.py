"""The mode registry: one table of names, selections (shopping as a preset) and what surfaces offer."""

import pytest

from ponder.errors import UserError
from ponder.modes import ContemplatingMode, InstantMode, ThinkingMode, get_mode
from ponder.modes.registry import MODE_CHOICES, REASONING_MODES, Selection, mode_catalog, select
from ponder.modes.router import AutoMode


def test_every_mode_name_builds_its_mode() -> None:
    built = {name: type(get_mode(name)) for name in (*REASONING_MODES, "auto")}
    assert built == {
        "instant": InstantMode,
        "thinking": ThinkingMode,
        "contemplating": ContemplatingMode,
        "auto": AutoMode,
    }


def test_shopping_is_a_preset_under_auto_or_any_mode() -> None:
    assert select("shopping") == Selection("auto", "shopping")
    assert select("thinking", "shopping") == Selection("thinking", "shopping")
    assert select(None, None, default="shopping") == Selection("auto", "shopping")
    assert select(None) == Selection("auto")
    with pytest.raises(UserError, match="shopping is a preset"):
        get_mode("shopping")
    with pytest.raises(UserError, match="Unknown preset 'gifts'"):
        select("auto", "gifts")


def test_the_catalog_lists_every_choice_once() -> None:
    catalog = mode_catalog()
    assert sorted(entry["name"] for entry in catalog) == sorted(MODE_CHOICES)
    assert {entry["kind"] for entry in catalog if entry["name"] == "shopping"} == {"preset"}
