"""Which UCP version a request is answered in: the ``version`` a platform declares in ``UCP-Agent``, the
store's default when it declares none, and ``version_unsupported`` for any other."""

from __future__ import annotations

from typing import get_args

import pytest

from ponder.commerce.ucp.versions import (
    DRAFT,
    RELEASED,
    SUPPORTED,
    VersionUnsupported,
    declared_version,
    negotiate,
)
from ponder.config import UcpConfig


@pytest.mark.parametrize(
    ("header", "version"),
    [
        ('profile="https://a.example/p", version="2026-01-11"', "2026-01-11"),
        ('version="2026-08-25", profile="https://a.example/p"', "2026-08-25"),
        ('profile="https://a.example/p";version=2026-01-11', "2026-01-11"),  # the reference merchant's form
        ('profile="https://a.example/p", Version = "2099-01-01"', "2099-01-01"),
        ('profile="https://a.example/p"', None),
        ('profile="https://a.example/version=2026-01-11"', None),  # inside the profile URL: not a member
        (None, None),
    ],
)
def test_the_declared_version_is_the_headers_version_member(header, version) -> None:
    assert declared_version(header) == version


def test_a_declared_version_the_store_speaks_is_answered_in_it_and_none_gets_the_default() -> None:
    assert negotiate("2026-01-11", DRAFT) == RELEASED
    assert negotiate("2026-08-25", RELEASED) == DRAFT
    assert negotiate(None, RELEASED) == RELEASED
    assert negotiate(None, DRAFT) == DRAFT


@pytest.mark.parametrize("declared", ["2099-01-01", "2026-04-08", "2025-01-01", "latest", ""])
def test_any_other_version_is_unsupported_never_answered_in_another_versions_shapes(declared) -> None:
    with pytest.raises(VersionUnsupported) as refused:
        negotiate(declared, RELEASED)
    assert refused.value.code == "version_unsupported"
    assert "2026-01-11, 2026-08-25" in str(refused.value)


def test_the_config_offers_exactly_the_versions_spoken() -> None:
    assert get_args(UcpConfig.model_fields["default_version"].annotation) == SUPPORTED
    assert UcpConfig().default_version == RELEASED  # an agent that says nothing is on the released protocol
