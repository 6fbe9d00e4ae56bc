"""The ``ponder`` entry point: the command group and the one place errors become exit codes.

A ``PonderError`` is printed as its message (what went wrong, what to do) and exits with its code. Any
other exception is a bug: it is reported in one line, with the traceback only when PONDER_DEBUG=1.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from ponder import __version__
from ponder.errors import PonderError

from .ask import ask
from .channels import channels
from .chat import chat
from .context import CliContext
from .interests import interests
from .keys import keys
from .listen import listen
from .live import live
from .mcp import mcp
from .memory import forget_me, memory, sessions
from .models import models
from .render import print_error
from .sandbox import sandbox
from .serve import serve
from .shop import shop, support

__all__ = ["cli", "main"]


class PonderGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PonderError as err:
            print_error(str(err))
            ctx.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:  # the reader went away (`ponder ask ... | head -1`): nothing to report
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(141)
        except Exception as err:
            if os.environ.get("PONDER_DEBUG"):
                traceback.print_exc()
            print_error(
                f"internal error: {type(err).__name__}: {err}. This is a bug in Ponder; "
                "run again with PONDER_DEBUG=1 to see the traceback and report it."
            )
            ctx.exit(1)


@click.group(cls=PonderGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ponder")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Ponder: an open, self-hostable reasoning runtime on your own models."""
    if ctx.obj is None:
        ctx.obj = CliContext()


cli.add_command(ask)
cli.add_command(chat)
cli.add_command(models)
cli.add_command(sandbox)
cli.add_command(mcp)
cli.add_command(serve)
cli.add_command(keys)
cli.add_command(interests)
cli.add_command(listen)
cli.add_command(live)
cli.add_command(memory)
cli.add_command(sessions)
cli.add_command(forget_me)
cli.add_command(shop)
cli.add_command(support)
cli.add_command(channels)


def main() -> None:
    cli(prog_name="ponder")
