"""``ponder chat``: an interactive conversation that keeps its history.

Every turn is stored in a session (a new one, or ``--session ID`` to resume one); the conversation's
history comes from there. Ctrl-C while an answer streams stops that answer and returns to the prompt (the
partial answer is stored, marked stopped); Ctrl-C or Ctrl-D at the prompt ends the chat. ``/new`` starts a
new session; ``/image PATH [question]`` and ``/audio PATH`` send a picture or a spoken clip through
perception. After each answer, facts the user stated are remembered and shown (``--no-memory``: not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ponder.errors import BackendError, UserError
from ponder.memory.owner import DEFAULT_USER, Owner
from ponder.memory.sessions import new_session_id
from ponder.messages import Message
from ponder.modes.registry import Selection

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
from .render import err_console, print_error, print_learned, print_stopped
from .session import TerminalSession

__all__ = ["chat"]

_HELP = (
    "Commands: /image PATH [question] and /audio PATH send a picture or a spoken clip, /new starts a new "
    "session, /exit (or Ctrl-D) leaves. Ctrl-C stops an answer."
)


@click.command()
@generation_options
@memory_options
@click.option("--stats", is_flag=True, help="Print usage (tokens, speed) after each answer.")
@click.pass_obj
def chat(obj: CliContext, /, stats: bool, **options: Any) -> None:
    """Chat with the model; every turn is stored, and --session ID resumes a conversation."""
    settings = without_memory(obj.settings(**settings_flags(options)), options)
    request = model_settings(settings, options["stop"])
    owner = owner_of(options)
    session_id = options["session_id"] or new_session_id()
    with TerminalSession(obj, settings, stream=True, show_thinking=options["show_thinking"]) as session:
        err_console.print(
            f"ponder chat · {settings.model} · {_shown(session.selection)}. {_HELP}",
            style="dim",
            markup=False,
        )
        _announce(session, owner, session_id)
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
            if line in ("/new", "/reset"):
                session_id = new_session_id()
                _announce(session, owner, session_id)
                continue
            if line == "/help":
                err_console.print(_HELP, style="dim", markup=False)
                continue
            try:
                message = _message(line)
            except UserError as err:  # a file that cannot be read: say so, keep chatting
                print_error(str(err))
                continue
            try:
                turn = session.run([message], request, owner=owner, session_id=session_id)
            except KeyboardInterrupt:
                print_stopped()  # the partial answer was stored
                continue
            except (UserError, BackendError) as err:  # this turn failed (nothing stored); the chat goes on
                print_error(str(err))
                continue
            assert turn.result is not None
            session.print_result(turn.result, as_json=False, stats=stats)
            try:
                session.settle_proposals(ask=True)
                print_learned(session.learn(turn))
            except KeyboardInterrupt:
                continue
            except (UserError, BackendError) as err:
                print_error(f"could not update memory: {err}")


def _announce(session: TerminalSession, owner: Owner, session_id: str) -> None:
    """Say which session this is (resumed with how many turns, or new) and how to come back to it."""
    info = session.memory.sessions.open(owner, session_id)
    what = f"resumed, {info.turns} turns" if info.turns else "new"
    who = "" if owner.user == DEFAULT_USER else f" --user {owner.user}"
    again = f"ponder chat --session {info.id}{who}"
    err_console.print(
        f"session {info.id} ({what}) · user {owner.user} · {again} to come back",
        style="dim",
        markup=False,
    )


def _shown(selection: Selection) -> str:
    """The mode as the banner names it: ``auto``, or ``thinking · shopping`` under a preset."""
    if selection.preset is None:
        return selection.mode
    return selection.preset if selection.mode == "auto" else f"{selection.mode} · {selection.preset}"


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
