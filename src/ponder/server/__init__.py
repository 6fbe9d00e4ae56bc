"""``ponder serve``: an OpenAI-compatible API over Ponder's modes, with keys, limits and a chat page."""

from ponder.server.app import create_app

__all__ = ["create_app"]
