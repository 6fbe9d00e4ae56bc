"""Ponder: an open, self-hostable multimodal reasoning runtime.

    conversation.py   the conversation runner, the one owner of a turn: routing once, the preset, session and
                      recall, perception, the mode, storing, learning; every surface hands it a TurnSpec
    turn.py           TurnResult (the answer, the mode, what it cost) and run_turn (a mode alone, no memory)
    messages.py       Message and its parts, usage figures, stream events
    config.py         Settings: defaults < config file < environment < flags, loaded once
    errors.py         the one exception tree (PonderError)
    sharing.py        large work giving the interpreter to small work in a server's threads
    modes/            instant, thinking, contemplating, the auto router, the mode registry and presets' names
    models/           the Model interface and its backends (embedded llama.cpp, OpenAI-compatible, metered)
    tools/            Tool, @tool, toolsets, the tool runner, the python tool, MCP
    sandbox/          the jail for model-written programs, its tiers and escape probes
    perception/       images and audio to text for models that do not read them
    memory/           owners, sessions, memories, interest signals, embeddings, vector search
    commerce/         the store: catalog, carts, checkout, orders, pending actions, the shopping preset, UCP
    store/            the database (SQLite or PostgreSQL), migrations, API keys, limits, the job table
    server/           ``ponder serve``: the OpenAI-compatible API, the UCP routes, the chat page's server
    cli/              the ``ponder`` command line (``__main__.py``: ``python -m ponder``)
    web/              the static chat page
    prompts/          prompt templates as data files
    testing/          ScriptedModel and other test doubles, shipped

A turn has one owner, conversation.py: the surfaces (cli/, server/) only translate to and from it.
"""

from ponder.config import Settings, load_settings
from ponder.errors import PonderError, UserError
from ponder.messages import Message, ModelResponse, Usage
from ponder.models.base import Model, ModelSettings
from ponder.models.registry import list_models, resolve_model
from ponder.turn import TurnResult, run_turn

__version__ = "0.1.0"

__all__ = [
    "Message",
    "Model",
    "ModelResponse",
    "ModelSettings",
    "PonderError",
    "Settings",
    "TurnResult",
    "Usage",
    "UserError",
    "__version__",
    "list_models",
    "load_settings",
    "resolve_model",
    "run_turn",
]
