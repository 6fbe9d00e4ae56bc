"""``ponder ask``: answer one question and exit."""

from __future__ import annotations

import sys
from typing import Any

import click

from ponder.messages import Message

from .context import CliContext
from .options import generation_options, model_settings, settings_flags
from .render import print_stopped
from .session import TerminalSession

__all__ = ["ask"]


@click.command()
@click.argument("question", nargs=-1)
@generation_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer and its usage as JSON.")
@click.option("--stats", is_flag=True, help="Print usage (tokens, speed) to stderr after the answer.")
@click.pass_obj
def ask(obj: CliContext, /, question: tuple[str, ...], as_json: bool, stats: bool, **options: Any) -> None:
    """Answer QUESTION, streaming the answer to the terminal. Use - to read the question from stdin."""
    text = " ".join(question).strip()
    if text == "-":
        text = sys.stdin.read().strip()
    if not text:
        raise click.UsageError('Give a question, e.g. ponder ask "Why is the sky blue?"')
    settings = obj.settings(**settings_flags(options))
    with TerminalSession(
        obj, settings, stream=not as_json, show_thinking=options["show_thinking"]
    ) as session:
        try:
            result = session.turn([Message.user(text)], model_settings(settings, options["stop"]))
        except KeyboardInterrupt:
            print_stopped()
            raise click.exceptions.Exit(130) from None
        session.print_result(result, as_json=as_json, stats=stats)
