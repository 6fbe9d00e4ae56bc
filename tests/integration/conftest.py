"""Shared fixtures for tests on real models: SmolLM2-135M, the fast fixture the embedded stack ships."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ponder.models.embedded.backend import EmbeddedModel
from ponder.models.embedded.catalog import find_embedded
from ponder.models.embedded.weights import ensure_weights, missing_parts

FIXTURE = find_embedded("smollm2-135m")
assert FIXTURE is not None


@pytest.fixture(scope="session")
def smollm_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problems = missing_parts(FIXTURE)
    if problems:
        pytest.fail(f"the integration fixture model is not installed: {problems} ({FIXTURE.install_hint})")
    return ensure_weights(FIXTURE, tmp_path_factory.mktemp("models"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def smollm(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedModel]:
    model = EmbeddedModel(spec=FIXTURE, models_dir=tmp_path_factory.mktemp("models"), context_length=2048)
    await model.load()
    yield model
    await model.aclose()
