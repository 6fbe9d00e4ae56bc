"""What every command shares: flags turned into settings, and how a model is made from a spec.

Tests inject ``model_factory`` (for instance returning a ``ScriptedModel``), ``perception`` (its engines
already loaded) and ``embedder`` through click's ``obj``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ponder.config import Settings, load_settings
from ponder.models.base import Model
from ponder.models.embedded.weights import ProgressCallback
from ponder.models.registry import resolve_model

if TYPE_CHECKING:
    from ponder.memory.embeddings import Embedder
    from ponder.perception import Perception

__all__ = ["CliContext", "ModelFactory"]

ModelFactory = Callable[[str, Settings, ProgressCallback | None], Model]


def _resolve(spec: str, settings: Settings, progress: ProgressCallback | None) -> Model:
    return resolve_model(spec, settings, progress=progress)


@dataclass
class CliContext:
    model_factory: ModelFactory = _resolve
    overrides: dict[str, Any] = field(default_factory=dict)
    perception: Perception | None = None  # None: one made from the settings (its engines load on first use)
    embedder: Embedder | None = None  # None: the shipped E5 model, loaded on the first recall

    def settings(self, **flags: Any) -> Settings:
        return load_settings(**{**self.overrides, **flags})
