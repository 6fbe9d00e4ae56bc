"""Test doubles shipped with Ponder, for your tests as well as ours."""

from ponder.testing.scripted import RecordedCall, ScriptedModel

__all__ = ["RecordedCall", "ScriptedModel"]
