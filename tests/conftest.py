"""Test configuration: every test gets its own data and config directories, and no real network.

Real model and server tests live in tests/integration and are marked ``integration``.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Ponder's data and config at fresh directories, and clear PONDER_* from the environment."""
    import os

    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith("PONDER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    return home
