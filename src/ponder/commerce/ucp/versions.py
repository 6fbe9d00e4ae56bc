"""Which UCP version a request is answered in: the versions this store speaks, and the version a platform
declares.

UCP versions are dates (``YYYY-MM-DD``). This store speaks two:

- ``2026-01-11``, the released protocol (tag v2026-01-11): what the published conformance suite and the
  reference merchant speak. Its models are generated from that release's schemas (``v2026_01_11/``).
- ``2026-08-25``, the later draft that ``ucp-sdk`` 0.5 models: the store's own documents are written in it,
  and ``shapes_2026_01_11.py`` rewrites them for the released version.

A platform declares its version in the ``UCP-Agent`` header, as a ``version`` member beside ``profile``
(``profile="https://…", version="2026-01-11"``; the reference merchant reads it there). A platform that
declares none is answered in the store's default (``[ucp] default_version``, the released one unless set).
A version the store does not speak is refused with ``version_unsupported`` (UCP: a business validates the
platform's version on every request and answers only versions it implements), never answered in another
version's shapes.

Not here: fetching a platform's profile (the server's business), the shapes themselves.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from ponder.errors import UserError

__all__ = [
    "DRAFT",
    "RELEASED",
    "SUPPORTED",
    "UcpVersion",
    "VersionUnsupported",
    "declared_version",
    "negotiate",
]

UcpVersion = Literal["2026-01-11", "2026-08-25"]
RELEASED: Final[UcpVersion] = "2026-01-11"
DRAFT: Final[UcpVersion] = "2026-08-25"
SUPPORTED: Final[tuple[UcpVersion, ...]] = (RELEASED, DRAFT)  # oldest first

# RFC 8941 dictionary members are separated by commas; the reference merchant also reads ";".
_VERSION = re.compile(r'(?:^|[,;])\s*version\s*=\s*(?:"([^"\\]*)"|([^\s,;"]+))', re.IGNORECASE)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class VersionUnsupported(UserError):
    """The platform's UCP version is not one this store speaks."""

    code = "version_unsupported"

    def __init__(self, version: str) -> None:
        super().__init__(
            f"Version {version} is not supported. This business implements versions {', '.join(SUPPORTED)}."
        )
        self.version = version


def declared_version(ucp_agent: str | None) -> str | None:
    """The ``version`` member of a ``UCP-Agent`` header, or None when it declares none."""
    found = _VERSION.search(ucp_agent or "")
    if found is None:
        return None
    return (found.group(1) if found.group(1) is not None else found.group(2)).strip()


def negotiate(declared: str | None, default: UcpVersion) -> UcpVersion:
    """The version to answer in: the declared one if this store speaks it, ``default`` if none was declared;
    anything else (a later version, an earlier one, not a date) is ``VersionUnsupported``."""
    if declared is None:
        return default
    for version in SUPPORTED:
        if declared == version:
            return version
    shown = declared if _DATE.fullmatch(declared) else repr(declared[:40])
    raise VersionUnsupported(shown)
