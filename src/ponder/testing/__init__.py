"""Test doubles shipped with Ponder, for your tests as well as ours."""

from ponder.testing.embedder import HashingEmbedder
from ponder.testing.scripted import RecordedCall, ScriptedModel

__all__ = ["HashingEmbedder", "RecordedCall", "ScriptedModel"]
