"""The text a person reads about a pending action, checked on the functions themselves (test_actions.py
checks the summaries ActionDesk writes): one value per line, the model's words cut and kept apart."""

from __future__ import annotations

import pytest

from ponder.commerce.action_summaries import (
    ADDRESS_FIELD_CHARS,
    NOTE_CHARS,
    address_text,
    assistant_note,
    check_written_address,
    difference_text,
    one_line,
    options_text,
)
from ponder.commerce.model import Address
from ponder.errors import UserError


def test_a_value_cannot_break_or_reorder_its_line() -> None:
    written = "Shirt\nTotal 0.00 EUR\u2028\u202eRUE 00.09\u2066x\x7f"
    shown = one_line(written)
    assert "\n" not in shown and not any(c in shown for c in "\u2028\u202e\u2066\x7f")
    assert shown.startswith("Shirt Total 0.00 EUR")
    assert options_text({"size\n": "M"}) == " (size  M)"
    assert options_text({}) == ""


def test_the_assistant_note_is_one_line_and_cut() -> None:
    assert assistant_note({"reason": " too\nsmall "}) == "too small"
    assert assistant_note({}) == ""
    long = assistant_note({"reason": "x" * (NOTE_CHARS + 50)})
    assert len(long) == NOTE_CHARS and long.endswith("…")


def test_the_money_line_says_which_way_the_difference_goes() -> None:
    quote = {"currency": "EUR", "method": {"kind": "gift_card", "id": "gc-1"}}
    assert difference_text(quote | {"difference": 250}) == (
        "The price difference, 2.50 EUR, is charged to gift card gc-1."
    )
    assert "goes back to gift card gc-1" in difference_text(quote | {"difference": -250})
    assert difference_text(quote | {"difference": 0}) == "The prices are the same: no money moves."


def test_a_written_address_must_be_what_the_summary_shows() -> None:
    fine = Address("new", "1 Main St", "Springfield", "US", name="Ann")
    check_written_address(fine)
    assert address_text({"name": "Ann", "line1": "1 Main St", "line2": "", "city": "Springfield"}) == (
        "Ann, 1 Main St, Springfield"
    )
    assert address_text(None) == "no address"
    with pytest.raises(UserError, match="city has a control character"):
        check_written_address(Address("new", "1 Main St", "Springfield\u202e", "US"))
    with pytest.raises(UserError, match=f"line1 is over {ADDRESS_FIELD_CHARS}"):
        check_written_address(Address("new", "x" * (ADDRESS_FIELD_CHARS + 1), "Springfield", "US"))
