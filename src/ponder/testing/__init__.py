"""Test doubles shipped with Ponder, for your tests as well as ours.

    scripted.py   ScriptedModel: a model that answers from a script of steps (text, streamed deltas, tool
                  calls, responses, exceptions), recording each call (RecordedCall)
    embedder.py   HashingEmbedder: a fast, deterministic stand-in for the E5 embedding model
    instances.py  example_of: the plainest JSON value a schema allows (a scripted structured answer)
    media.py      generated test media: text rendered into images, sentences spoken by espeak-ng
    mandates.py   TestPlatform: an agent platform signing AP2 mandates, for UCP checkouts
    platforms.py  FakeGraphAPI, FakeBotAPI: WhatsApp/Messenger's Graph API and Telegram's Bot API
    engine.py     a fake OpenAI-compatible engine (a process: ``python -m ponder.testing.engine``)
    proxy.py      a round-robin HTTP proxy (``python -m ponder.testing.proxy``)
    cluster.py    several ``ponder serve`` replicas on one database, Redis and the fake engine
    load.py       closed-loop chat load through an endpoint (the replicas' test and bench)

Ponder itself uses one of them at run time: ScriptedModel behind the ``scripted:TEXT`` model spec.
"""

from ponder.testing.embedder import HashingEmbedder
from ponder.testing.instances import example_of
from ponder.testing.scripted import RecordedCall, ScriptedModel

__all__ = ["HashingEmbedder", "RecordedCall", "ScriptedModel", "example_of"]
