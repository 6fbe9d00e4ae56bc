"""``ponder ask``: answer one question and exit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .context import CliContext
from .media import user_message
from .options import generation_options, model_settings, settings_flags
from .render import print_stopped
from .session import TerminalSession

__all__ = ["ask"]


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.argument("question", nargs=-1)
@click.option("--image", "images", type=_FILE, multiple=True, help="An image to ask about (repeatable).")
@click.option(
    "--audio",
    "audio",
    type=_FILE,
    multiple=True,
    help="A spoken question or clip (WAV, FLAC, OGG, MP3, M4A, WebM).",
)
@generation_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer and its usage as JSON.")
@click.option("--stats", is_flag=True, help="Print usage (tokens, speed) to stderr after the answer.")
@click.pass_obj
def ask(
    obj: CliContext,
    /,
    question: tuple[str, ...],
    images: tuple[Path, ...],
    audio: tuple[Path, ...],
    as_json: bool,
    stats: bool,
    **options: Any,
) -> None:
    """Answer QUESTION, streaming the answer to the terminal. Use - to read the question from stdin.

    With --image, the question is about the image (OCR and image analysis on the embedded model; the image
    itself on a vision model). With --audio, the clip is transcribed and answered (Instant under auto).
    """
    text = " ".join(question).strip()
    if text == "-":
        text = sys.stdin.read().strip()
    if not text and not images and not audio:
        raise click.UsageError(
            'Give a question, e.g. ponder ask "Why is the sky blue?", or --image / --audio.'
        )
    message = user_message(text, images, audio)
    settings = obj.settings(**settings_flags(options))
    with TerminalSession(
        obj, settings, stream=not as_json, show_thinking=options["show_thinking"]
    ) as session:
        try:
            result = session.turn([message], model_settings(settings, options["stop"]))
        except KeyboardInterrupt:
            print_stopped()
            raise click.exceptions.Exit(130) from None
        session.print_result(result, as_json=as_json, stats=stats)
