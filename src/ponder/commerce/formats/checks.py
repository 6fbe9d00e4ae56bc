"""Checking a store file: ``StoreFormatError``, the problems of one load, and the checks both formats share.

A load collects its problems in a ``Problems`` (``file: where: what``, the first ``MAX_REPORTED`` kept, all
counted) and raises them together at the end; pydantic's errors are turned into the same places
(``products[3].variants[1].price``, ``users["ann"].email``). The field types and checks here are the ones
Ponder's format and tau2's both use: non-empty ids, one-line names, money up to ``MAX_CENTS``.

Not here: reading files (reading.py) and either format's own rules (ponder.py, tau2.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Final

from pydantic import AfterValidator, Field, ValidationError

from ponder.errors import UserError

__all__ = [
    "MAX_CENTS",
    "MAX_REPORTED",
    "Cents",
    "Id",
    "Name",
    "Problems",
    "StoreFormatError",
    "duplicates",
    "inside",
    "json_type",
    "order_money_problems",
]

MAX_REPORTED: Final = 20  # problems named in one error
MAX_CENTS: Final = 10**12  # any amount, and an order's items together: ten billion in the currency


class StoreFormatError(UserError):
    """A store file that cannot be loaded; nothing was loaded. ``problems``: the first ``MAX_REPORTED``,
    each naming its file and the place in it; ``total``: how many were found."""

    def __init__(self, source: Path, problems: Sequence[str], total: int | None = None) -> None:
        self.source = source
        self.problems = list(problems)
        self.total = len(self.problems) if total is None else total
        if self.total == 1:
            detail = self.problems[0]
        else:
            listed = "".join(f"\n  {p}" for p in self.problems)
            more = f"\n  ... and {self.total - len(self.problems)} more" if self.total > len(problems) else ""
            detail = f"{self.total} problems:{listed}{more}"
        super().__init__(f"cannot load the store {source}: {detail}")


# --- problems --------------------------------------------------------------------------------------------

# Fields whose next location part is a key chosen by the data (written ["key"]), not a field name.
_KEYED: Final = frozenset(
    {"products", "users", "orders", "variants", "payment_methods", "options", "attributes"}
)
_MONEY: Final = frozenset({"price", "amount", "balance"})


def _where(prefix: str, loc: Sequence[str | int]) -> str:
    """A pydantic location as a path: ``products[3].variants[1].price``, ``users["ann"].email``."""
    out, field_before = prefix, ""
    for part in loc:
        if isinstance(part, int):
            out, field_before = f"{out}[{part}]", ""
        elif field_before in _KEYED:
            out, field_before = f"{out}[{json.dumps(part, ensure_ascii=False)}]", ""
        else:
            out, field_before = inside(out, part), part
    return out


@dataclass
class Problems:
    """The problems of one load: the first MAX_REPORTED, each ``file: where: what``, and how many in all."""

    source: Path
    listed: list[str] = field(default_factory=list)
    total: int = 0

    def add(self, file: str, where: str, what: str) -> None:
        self.total += 1
        if len(self.listed) < MAX_REPORTED:
            self.listed.append(f"{file}: {where}: {what}" if where else f"{file}: {what}")

    def add_invalid(self, file: str, prefix: str, err: ValidationError) -> None:
        for e in err.errors(include_url=False):
            what = e["msg"]
            given = e.get("input")
            if e["type"] not in ("missing", "extra_forbidden") and not isinstance(given, dict | list):
                what += f" (got {json.dumps(given, ensure_ascii=False)[:60]})"
            if e["type"] == "int_type" and e["loc"] and e["loc"][-1] in _MONEY:
                what += "; money is an integer number of cents"
            self.add(file, _where(prefix, e["loc"]), what)

    def raise_any(self) -> None:
        if self.total:
            raise StoreFormatError(self.source, self.listed, self.total)


def duplicates(ids: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(index, id) of every id already seen earlier in ``ids``."""
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if item in seen:
            yield i, item
        seen.add(item)


def inside(where: str, sub: str) -> str:
    """``where`` and a place inside it: ``products[3]`` and ``id`` make ``products[3].id``."""
    return f"{where}.{sub}" if where else sub


def json_type(value: object) -> str:
    """What JSON calls the type of ``value``, for a problem's message: "a string", "null", "an object"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# --- what both formats check -----------------------------------------------------------------------------

_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError("a name is one line of text, without control characters")
    return text


Id = Annotated[str, Field(min_length=1)]
Name = Annotated[str, AfterValidator(_one_line)]  # shown on one line: in summaries, on the terminal
Cents = Annotated[int, Field(ge=0, le=MAX_CENTS)]


def order_money_problems(lines: Sequence[int], payments: Sequence[int]) -> Iterator[str]:
    """An order whose items (each line's price times quantity) or payments add up past MAX_CENTS."""
    if sum(lines) > MAX_CENTS:
        yield f"its items add up to more than {MAX_CENTS:,} cents"
    if sum(payments) > MAX_CENTS:
        yield f"its payments add up to more than {MAX_CENTS:,} cents"
