"""``ponder serve``: run the OpenAI-compatible API and the chat page (uvicorn).

SIGTERM and Ctrl-C shut down gracefully: the server stops accepting, lets in-flight requests (streams
included) finish for up to ``server.graceful_shutdown_s``, then exits.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from typing import Any

import click

from ponder.errors import UserError

from .context import CliContext

__all__ = ["serve"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default=None, help="Address to listen on (127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (8000).")
@click.option("--model", "-m", "model", default=None, help="The default model, behind ponder-* modes.")
@click.option("--tools", multiple=True, default=None, help="Tools Ponder runs itself, as for `ponder ask`.")
@click.option(
    "--no-key",
    "allow_local_without_key",
    is_flag=True,
    default=None,
    help="Serve requests without an API key as account 'local' (loopback addresses only; requests must name "
    "localhost, 127.0.0.1 or [::1] and the port as Host, and other sites' pages are refused).",
)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info")
@click.pass_obj
def serve(obj: CliContext, /, host: str | None, port: int | None, log_level: str, **options: Any) -> None:
    """Serve the OpenAI-compatible API (/v1/chat/completions, /v1/models) and the chat page at /."""
    import uvicorn

    from ponder.server import create_app

    flags: dict[str, Any] = {}
    if options["model"]:
        flags["model"] = options["model"]
    if options["tools"]:
        flags["tools"] = [t for value in options["tools"] for t in value.split(",") if t]
    settings = obj.settings(**flags)
    server = settings.server.model_copy(
        update={
            k: v
            for k, v in {
                "host": host,
                "port": port,
                "allow_local_without_key": options["allow_local_without_key"],
            }.items()
            if v is not None
        }
    )
    settings = settings.model_copy(update={"server": server})
    if server.allow_local_without_key and not _is_loopback(server.host):
        raise UserError(
            f"Requests without a key are allowed only on a loopback address, and {server.host} is not one: "
            "create keys (`ponder keys create`) or listen on 127.0.0.1."
        )
    _log_as_json(log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=server.host,
        port=server.port,
        log_config=None,
        access_log=False,  # the app writes one structured line per request
        timeout_graceful_shutdown=int(server.graceful_shutdown_s),
        loop="auto",
        http="auto",
    )
    mode = "no key needed (local)" if server.allow_local_without_key else "API keys required"
    click.echo(f"Ponder on http://{server.host}:{server.port} ({mode}); model {settings.model}", err=True)
    if not _is_loopback(server.host) and not server.public_base_url:
        click.echo(
            f"warning: listening on {server.host} without server.public_base_url: the links Ponder hands out "
            f"(UCP discovery, continue_url) say {server.base_url}; set PONDER_SERVER__PUBLIC_BASE_URL to the "
            "address clients reach.",
            err=True,
        )
    uvicorn.Server(config).run()


def _log_as_json(level: str) -> None:
    """Ponder's and uvicorn's logs as one JSON line each on stderr, for the life of the process."""
    from ponder.server.middleware import JsonLogFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    for name in ("ponder", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    # httpx logs each request's URL at INFO, and a Telegram channel's URLs carry its bot token
    logging.getLogger("httpx").setLevel(logging.WARNING)
