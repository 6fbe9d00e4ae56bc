"""``ponder listen``: record a spoken question from the microphone, transcribe it and answer it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import click

from ponder.messages import AudioPart, Message

from .context import CliContext
from .options import generation_options, model_settings, settings_flags
from .render import err_console, print_stopped
from .session import TerminalSession

__all__ = ["listen"]


@click.command()
@click.option(
    "--seconds", type=click.FloatRange(1, 600), default=30.0, show_default=True, help="Longest recording."
)
@click.option(
    "--save", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Keep the recording as WAV."
)
@generation_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer, the transcript and usage as JSON.")
@click.option("--stats", is_flag=True, help="Print usage (tokens, speed) to stderr after the answer.")
@click.pass_obj
def listen(
    obj: CliContext, /, seconds: float, save: Path | None, as_json: bool, stats: bool, **options: Any
) -> None:
    """Record a question from the microphone (Enter stops), then answer it (Instant under auto)."""
    from ponder.perception.microphone import record

    settings = obj.settings(**settings_flags(options))
    stop = threading.Event()
    err_console.print(f"Listening (up to {seconds:.0f} s): speak, then press Enter.", style="bold")

    def wait_for_enter() -> None:
        input()
        stop.set()

    waiter = threading.Thread(target=wait_for_enter, daemon=True)
    waiter.start()
    wav = record(seconds, stop)
    if save is not None:
        save.write_bytes(wav)
        err_console.print(f"(recording saved to {save})", style="dim", markup=False)
    with TerminalSession(
        obj, settings, stream=not as_json, show_thinking=options["show_thinking"]
    ) as session:
        try:
            heard = [Message("user", (AudioPart(wav, "audio/wav"),))]
            turn = session.run(heard, model_settings(settings, options["stop"]))  # nobody's: not stored
        except KeyboardInterrupt:
            print_stopped()
            raise click.exceptions.Exit(130) from None
        assert turn.result is not None
        session.print_result(turn.result, as_json=as_json, stats=stats)
