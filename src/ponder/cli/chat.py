"""``ponder chat``: an interactive conversation that keeps its history.

Ctrl-C while an answer streams stops that answer and returns to the prompt (the partial answer stays in
the history); Ctrl-C or Ctrl-D at the prompt ends the chat. ``/reset`` forgets the history; ``/image PATH
[question]`` and ``/audio PATH`` send a picture or a spoken clip through perception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ponder.errors import BackendError, UserError
from ponder.messages import Message

from .context import CliContext
from .media import user_message
from .options import generation_options, model_settings, settings_flags
from .render import err_console, print_error, print_stopped
from .session import TerminalSession

__all__ = ["chat"]

_HELP = (
    "Commands: /image PATH [question] and /audio PATH send a picture or a spoken clip, /reset forgets the "
    "conversation, /exit (or Ctrl-D) leaves. Ctrl-C stops an answer."
)


@click.command()
@generation_options
@click.option("--stats", is_flag=True, help="Print usage (tokens, speed) after each answer.")
@click.pass_obj
def chat(obj: CliContext, /, stats: bool, **options: Any) -> None:
    """Chat with the model; the conversation is kept until you leave."""
    settings = obj.settings(**settings_flags(options))
    request = model_settings(settings, options["stop"])
    history: list[Message] = []
    with TerminalSession(obj, settings, stream=True, show_thinking=options["show_thinking"]) as session:
        err_console.print(f"ponder chat · {settings.model} · {settings.mode}. {_HELP}", style="dim")
        while True:
            try:
                line = input("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                err_console.print()
                return
            if not line:
                continue
            if line in ("/exit", "/quit"):
                return
            if line == "/reset":
                history.clear()
                err_console.print("(conversation forgotten)", style="dim")
                continue
            if line == "/help":
                err_console.print(_HELP, style="dim")
                continue
            try:
                history.append(_message(line))
            except UserError as err:  # a file that cannot be read: say so, keep chatting
                print_error(str(err))
                continue
            try:
                result = session.turn(history, request)
            except KeyboardInterrupt:
                print_stopped()
                if session.partial:
                    history.append(Message.assistant(session.partial))
                continue
            except (UserError, BackendError) as err:  # this turn failed; the chat goes on
                history.pop()
                print_error(str(err))
                continue
            history.append(Message.assistant(result.text))
            session.print_result(result, as_json=False, stats=stats)


def _message(line: str) -> Message:
    """The user's turn: typed text, or ``/image PATH [question]`` / ``/audio PATH`` with a file."""
    command, _, rest = line.partition(" ")
    if command not in ("/image", "/audio"):
        return Message.user(line)
    path, _, question = rest.strip().partition(" ")
    if not path:
        raise UserError(f"{command} needs a file: {command} PATH")
    if command == "/image":
        return user_message(question.strip(), images=[Path(path).expanduser()])
    return user_message(question.strip(), audio=[Path(path).expanduser()])
