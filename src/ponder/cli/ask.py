"""``ponder ask``: answer one question and exit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ponder.memory.sessions import new_session_id

from .context import CliContext
from .media import user_message
from .options import (
    generation_options,
    memory_options,
    model_settings,
    owner_of,
    settings_flags,
    without_memory,
)
from .render import print_learned, print_stopped
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
@memory_options
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

    The turn is stored in a new session (or in --session ID); what Ponder remembers about --user is
    recalled for it, and facts the question states about the user are remembered (--no-memory: neither).
    """
    text = " ".join(question).strip()
    if text == "-":
        text = sys.stdin.read().strip()
    if not text and not images and not audio:
        raise click.UsageError(
            'Give a question, e.g. ponder ask "Why is the sky blue?", or --image / --audio.'
        )
    message = user_message(text, images, audio)
    settings = without_memory(obj.settings(**settings_flags(options)), options)
    owner = owner_of(options)
    session_id = options["session_id"] or new_session_id()
    with TerminalSession(
        obj, settings, stream=not as_json, show_thinking=options["show_thinking"]
    ) as session:
        request = model_settings(settings, options["stop"])
        try:
            turn = session.run([message], request, owner=owner, session_id=session_id)
        except KeyboardInterrupt:
            print_stopped()
            raise click.exceptions.Exit(130) from None
        result = turn.result
        assert result is not None
        if as_json:
            session.learn(turn)
            if turn.memory is not None:
                result.details["memory"] = turn.memory.report()
            if session.proposals:  # for the person's client to confirm (POST-style: ponder shop confirm)
                result.details["pending_actions"] = session.settle_proposals(ask=False)
            session.print_result(result, as_json=True, stats=stats)
            return
        session.print_result(result, as_json=False, stats=stats)
        session.settle_proposals(ask=sys.stdin.isatty())
        print_learned(session.learn(turn))
