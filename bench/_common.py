"""Helpers shared by the benchmarks: settings in a throwaway-free data dir, medians, model loading."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from ponder.config import Settings, load_settings
from ponder.models.embedded.catalog import CATALOG, EmbeddedModelSpec, find_embedded
from ponder.models.embedded.weights import ensure_weights, missing_parts

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def settings() -> Settings:
    return load_settings()


def installed_models(names: list[str] | None = None) -> list[EmbeddedModelSpec]:
    specs = [find_embedded(n) for n in names] if names else list(CATALOG)
    return [s for s in specs if s is not None and not missing_parts(s)]


def weights(spec: EmbeddedModelSpec) -> Path:
    return ensure_weights(spec, settings().models_dir)


def median(values: list[float]) -> float:
    return statistics.median(values)


def emit(name: str, payload: dict[str, Any]) -> None:
    """Print a result line and keep it under bench/results/ (ignored by git)."""
    line = json.dumps({"bench": name, **payload})
    print(line)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    with (out / f"{name}.jsonl").open("a") as f:
        f.write(line + "\n")
    sys.stdout.flush()
