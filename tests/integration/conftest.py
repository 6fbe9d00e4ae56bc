"""Shared fixtures for tests on real models: SmolLM2-135M, the fast fixture the embedded stack ships."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ponder.config import DEFAULT_MODEL, load_settings
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


async def _loaded(name: str) -> AsyncIterator[EmbeddedModel]:
    """The embedded model ``name``, installed from its packages, loaded for the module."""
    spec = find_embedded(name)
    assert spec is not None
    problems = missing_parts(spec)
    if problems:
        pytest.fail(f"{name} is not installed: {problems} ({spec.install_hint})")
    model = EmbeddedModel(spec=spec, models_dir=load_settings().models_dir, context_length=4096)
    await model.load()
    yield model
    await model.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def qwen_small() -> AsyncIterator[EmbeddedModel]:
    """Qwen2.5-Coder-0.5B, the smallest embedded model whose chat template knows tools."""
    async for model in _loaded("qwen2.5-coder-0.5b"):
        yield model


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def default_model() -> AsyncIterator[EmbeddedModel]:
    """The embedded default (Qwen2.5-Coder-1.5B), what a person gets from the README's first command."""
    async for model in _loaded(DEFAULT_MODEL.removeprefix("embedded:")):
        yield model
