"""Names of accounts, users, projects and sessions are whole names: nothing may hide after them."""

from __future__ import annotations

import pytest

from ponder.errors import UserError
from ponder.memory.owner import Owner
from ponder.memory.sessions import check_session_id


@pytest.mark.parametrize("bad", ["dave\n", "dave\r\n", "\ndave", "da\nve", "dave "])
def test_a_name_with_a_trailing_newline_is_not_another_name(bad: str) -> None:
    with pytest.raises(UserError):
        Owner("acme", bad)
    with pytest.raises(UserError):
        Owner(bad, "dave")
    with pytest.raises(UserError):
        Owner("acme", "dave", bad)
    with pytest.raises(UserError):
        check_session_id(bad)


def test_good_names() -> None:
    owner = Owner("acme", "dave@example.com", "p-1")
    assert owner.key == ("acme", "dave@example.com") and check_session_id("s:1+x") == "s:1+x"
