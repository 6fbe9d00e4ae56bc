"""Reading store files as untrusted input, and writing them whole.

``read_bytes`` opens without blocking (a pipe), refuses what is not a regular file or is over ``max_bytes``
(also when it grows while read), and with ``follow=False`` refuses a link; ``in_folder`` refuses a file
found by name in a store's folder that links out of it. ``read_json``/``parse_json`` refuse what JSON has
not (NaN, Infinity) and nesting deeper than a store's, naming the line and column of invalid JSON.
``write_atomic`` writes aside, then renames, so a file is replaced whole or not at all.

Not here: what a store file holds (ponder.py, tau2.py).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Final

from ponder.commerce.formats.checks import StoreFormatError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "NotStoreJson",
    "in_folder",
    "parse_json",
    "read_bytes",
    "read_json",
    "write_atomic",
]

DEFAULT_MAX_BYTES: Final = 200 * 1024 * 1024  # per file read


class NotStoreJson(ValueError):
    """JSON that no store file holds: NaN or Infinity, or nesting far deeper than a store's."""


def _refuse_constant(name: str) -> Any:
    raise NotStoreJson(f"{name} is not a JSON number")


_READ_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a pipe must not block the open
_NO_FOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)


def read_bytes(path: Path, max_bytes: int, source: Path, *, follow: bool = True) -> bytes:
    """The bytes of the regular file ``path``; ``follow=False``: refused if ``path`` itself is a link."""
    try:
        fd = os.open(path, _READ_FLAGS | (0 if follow else _NO_FOLLOW))
    except FileNotFoundError:
        raise StoreFormatError(source, [f"{path}: no such file"]) from None
    except OSError as err:
        raise StoreFormatError(source, [f"{path}: cannot be read ({err.strerror or err})"]) from None
    with os.fdopen(fd, "rb") as file:
        try:
            info = os.fstat(fd)
            size = info.st_size
            if not stat.S_ISREG(info.st_mode):
                raise StoreFormatError(source, [f"{path}: not a file"])
            if size > max_bytes:
                raise StoreFormatError(
                    source, [f"{path.name}: {size:,} bytes, over the limit of {max_bytes:,}"]
                )
            data = file.read(max_bytes + 1)
        except OSError as err:
            raise StoreFormatError(source, [f"{path}: cannot be read ({err.strerror or err})"]) from None
    if len(data) > max_bytes:  # it grew while it was read
        raise StoreFormatError(source, [f"{path.name}: over the limit of {max_bytes:,} bytes"])
    return data


def in_folder(folder: Path, name: str, source: Path) -> Path:
    """The file ``name`` of the store's ``folder``, links resolved; refused if a link leads out of it."""
    found = (folder / name).resolve()
    if not found.is_relative_to(folder.resolve()):
        raise StoreFormatError(
            source, [f"{name}: a link that leads out of the store's folder {folder}: not followed"]
        )
    return found


def parse_json(data: bytes | str) -> Any:
    """``json.loads`` that refuses NaN and Infinity, which JSON does not have, and nesting deeper than
    Python's JSON reader can go (a store is a few levels deep)."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise NotStoreJson("nested too deeply (a store is a few levels deep)") from None


def read_json(path: Path, max_bytes: int, *, follow: bool = True) -> Any:
    data = read_bytes(path, max_bytes, path, follow=follow)
    try:
        return parse_json(data)
    except json.JSONDecodeError as err:
        raise StoreFormatError(
            path, [f"{path.name}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"]
        ) from None
    except NotStoreJson as err:
        raise StoreFormatError(path, [f"{path.name}: invalid JSON: {err}"]) from None
    except UnicodeDecodeError as err:
        raise StoreFormatError(path, [f"{path.name}: not UTF-8 text ({err.reason})"]) from None


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
