"""Reading the images and audio named on the command line into message parts."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path

from ponder.errors import MediaError
from ponder.messages import AudioPart, ImagePart, Message, Part, TextPart

__all__ = ["user_message"]

_MAX_FILE = 200 * 1024 * 1024  # refuse to read more than this from disk; perception has tighter limits


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > _MAX_FILE:
            raise MediaError(f"{path} is {size / 2**20:.0f} MiB: too large to read.")
        return path.read_bytes()
    except FileNotFoundError:
        raise MediaError(f"No file at {path}.") from None
    except IsADirectoryError:
        raise MediaError(f"{path} is a directory, not a file.") from None
    except PermissionError:
        raise MediaError(f"{path} cannot be read: permission denied.") from None


def _media_type(path: Path, default: str) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or default  # perception reads the real format from the bytes either way


def user_message(text: str, images: Sequence[Path] = (), audio: Sequence[Path] = ()) -> Message:
    """The user's turn: typed text (if any), then each image, then each audio clip."""
    parts: list[Part] = [TextPart(text)] if text else []
    parts += [ImagePart(_read(p), _media_type(p, "image/png")) for p in images]
    parts += [AudioPart(_read(p), _media_type(p, "audio/wav")) for p in audio]
    return Message("user", tuple(parts))
