"""Whose data a turn uses: an account (the API key's, or "local"), a user inside it, and optionally a project.

Every store takes an ``Owner`` and every query it runs names ``account`` and ``user_id``: there is no call
that reads across people. ``ponder ask`` without ``--user`` is the local default user, ``local``/``me``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ponder.errors import UserError

__all__ = ["DEFAULT_USER", "LOCAL_ACCOUNT", "Owner", "check_name"]

LOCAL_ACCOUNT = "local"  # the account of the CLI and of `ponder serve --no-key`
DEFAULT_USER = "me"  # the user when none is named
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,127}")  # whole names only: fullmatch, never ^...$


def check_name(value: str, what: str) -> str:
    """``value`` if it is a valid account, user or project name; a UserError that says why otherwise."""
    if not _NAME.fullmatch(value):  # "$" would let "dave\n" through as another user than "dave"
        raise UserError(
            f"The {what} {value!r} is not valid: use 1-128 letters, digits, '_', '.', '@', ':', '+' "
            "or '-', starting with a letter or digit."
        )
    return value


@dataclass(frozen=True)
class Owner:
    account: str = LOCAL_ACCOUNT
    user: str = DEFAULT_USER
    project: str = ""  # "": not in a project; memories without a project are recalled in every project

    def __post_init__(self) -> None:
        check_name(self.account, "account name")
        check_name(self.user, "user name")
        if self.project:
            check_name(self.project, "project name")

    def __str__(self) -> str:
        who = f"{self.user} (account {self.account})"
        return f"{who}, project {self.project}" if self.project else who

    def params(self, **more: Any) -> dict[str, Any]:
        """The ``:account`` and ``:user`` parameters every personal query filters on, and ``more``."""
        return {"account": self.account, "user": self.user} | more

    @property
    def key(self) -> tuple[str, str]:
        """(account, user): the scope of everything stored about this person."""
        return self.account, self.user
