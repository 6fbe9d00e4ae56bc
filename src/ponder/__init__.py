"""Ponder: an open, self-hostable multimodal reasoning runtime."""

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
