"""``ponder models``: the embedded and configured models, and whether each is ready."""

from __future__ import annotations

import asyncio
import json

import click
from rich.console import Console
from rich.table import Table

from ponder.models.embedded.catalog import CATALOG
from ponder.models.embedded.weights import ensure_weights, missing_parts
from ponder.models.registry import list_models

from .context import CliContext
from .render import AssemblyProgress, write_stdout

__all__ = ["models"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.option(
    "--prepare",
    is_flag=True,
    help="Assemble and verify (sha256) every embedded model whose weight packages are installed.",
)
@click.pass_obj
def models(obj: CliContext, as_json: bool, prepare: bool) -> None:
    """List the models Ponder can use and whether each is ready."""
    settings = obj.settings()
    if prepare:
        for spec in CATALOG:
            if missing_parts(spec):
                continue
            progress = AssemblyProgress(f"embedded:{spec.name}")
            try:
                ensure_weights(spec, settings.models_dir, progress)
            finally:
                progress.close()
    infos = asyncio.run(list_models(settings))
    if as_json:
        rows = [
            {"model": i.spec, "backend": i.backend, "ready": i.ready, "detail": i.detail, **i.extra}
            for i in infos
        ]
        write_stdout(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("model", "backend", "ready", "detail"):
        table.add_column(column)
    for info in infos:
        ready = "[green]yes[/]" if info.ready else "[red]no[/]"
        marker = (
            " (default)" if info.spec == settings.model or info.spec == f"embedded:{settings.model}" else ""
        )
        table.add_row(info.spec + marker, info.backend, ready, info.detail)
    Console(highlight=False).print(table)
