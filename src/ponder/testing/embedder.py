"""HashingEmbedder: a fast, deterministic stand-in for the E5 embedding model in tests.

Each word (lower-cased, a crude plural ``s`` removed) is hashed to a few dimensions; a text is the
normalised sum of its words. Texts that share words are near, texts that share none are orthogonal: enough
to test storing, merging, scoping and recall without loading a model. Tests of recall *quality* use E5.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    name = "hashing (test double)"

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.calls = 0

    def _one(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, np.float32)
        for word in _WORD.findall(text.lower()):
            word = word[:-1] if len(word) > 3 and word.endswith("s") else word
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            for i in range(0, 8, 2):
                vector[int.from_bytes(digest[i : i + 2], "little") % self.dim] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def query(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self.query(texts)

    def count_tokens(self, texts: Sequence[str], is_query: bool = True) -> int:
        """Its words, and two special tokens a text (as E5 counts ``<s>`` and ``</s>``)."""
        return sum(len(_WORD.findall(text.lower())) + 2 for text in texts)
