"""Test doubles shipped with Ponder, for your tests as well as ours.

    scripted.py   ScriptedModel: a model that answers from a script of steps (text, streamed deltas, tool
                  calls, responses, exceptions), recording each call (RecordedCall)
    embedder.py   HashingEmbedder: a fast, deterministic stand-in for the E5 embedding model
    instances.py  example_of: the plainest JSON value a schema allows (a scripted structured answer)
    media.py      generated test media: text rendered into images, sentences spoken by espeak-ng

Ponder itself uses one of them at run time: ScriptedModel behind the ``scripted:TEXT`` model spec.
"""

from ponder.testing.embedder import HashingEmbedder
from ponder.testing.instances import example_of
from ponder.testing.scripted import RecordedCall, ScriptedModel

__all__ = ["HashingEmbedder", "RecordedCall", "ScriptedModel", "example_of"]
