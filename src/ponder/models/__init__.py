"""Model backends behind one interface: embedded (llama.cpp), OpenAI-compatible HTTP, scripted."""

from ponder.models.base import Model, ModelInfo, ModelSettings

__all__ = ["Model", "ModelInfo", "ModelSettings"]
