"""Ponder's API as a Ray Serve application: ``serve run ponder.deploy.ray:app``.

Each replica builds, when it starts, the same FastAPI app that ``ponder serve`` runs,
``create_app(load_settings())``, from its own environment (``PONDER_*`` variables and the config file, as
everywhere). Ray Serve drives the app's lifespan on every replica (its ASGI wrapper runs uvicorn's lifespan
protocol before the replica takes requests, and its shutdown when Ray stops the replica), so each replica
starts its job worker, its messaging channels and its sandbox pool exactly as ``ponder serve`` does. The
replicas share nothing but the database and Redis: set ``PONDER_DATABASE_URL`` (PostgreSQL) and
``PONDER_SERVER__REDIS_URL`` on every node.

How many replicas, and what each asks of Ray, is read where the application is built (where ``serve run``
or ``serve deploy`` imports it), from ``PONDER_RAY_*`` environment variables, or from the same names as
``key=value`` arguments of ``serve run ponder.deploy.ray:build_app``, which win over the variables:

    replicas                  2    fixed number of replicas (ignored when max_replicas is set)
    max_replicas              -    set it to autoscale between min_replicas and max_replicas
    min_replicas              1    autoscaling's floor (at least 1: the job worker lives in the replicas)
    target_ongoing_requests   4    autoscaling's target of requests in flight per replica
    max_ongoing_requests      16   what Ray sends one replica at once (Ponder answers 503 past its own
                                   ``server.max_concurrent_turns``; keep this above it for cheap routes)
    num_cpus                  1    CPUs Ray reserves for each replica
    graceful_shutdown_s       60   how long a stopping replica's requests (streams too) may take to finish

A Serve config file (``serve deploy``, or a RayService's ``serveConfigV2``) overrides these per deployment,
under the deployment name ``Ponder``.

What it does not do: start Ray, install Ray (``pip install "ray[serve]"``, not one of Ponder's extras),
serve a model (engines are servers of their own: Ray Serve LLM, vLLM, SGLang, llama.cpp's server, reached
through an ``openai:`` model spec), or allow requests without a key: behind Ray Serve there is no loopback
address to keep them to, so ``server.allow_local_without_key`` is refused.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ponder.config import load_settings
from ponder.errors import ConfigError

try:
    import ray.serve as _ray_serve  # type: ignore[import-not-found, unused-ignore]
except ImportError as err:
    raise ImportError(
        f'ponder.deploy.ray needs Ray Serve, which Ponder does not install: pip install "ray[serve]" ({err})'
    ) from err

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["DEPLOYMENT_NAME", "ENV_PREFIX", "build_app", "build_asgi_app", "deployment_options"]

serve: Any = _ray_serve  # untyped to us: Ray's API is used through a handful of calls below

log = logging.getLogger("ponder.deploy")

_N = TypeVar("_N", int, float)

DEPLOYMENT_NAME: Final = "Ponder"
ENV_PREFIX: Final = "PONDER_RAY_"
OPTIONS: Final = (
    "replicas",
    "min_replicas",
    "max_replicas",
    "target_ongoing_requests",
    "max_ongoing_requests",
    "num_cpus",
    "graceful_shutdown_s",
)


def build_asgi_app() -> FastAPI:
    """Ponder's app from this replica's settings: Ray calls this on each replica as it starts."""
    settings = load_settings()
    if settings.server.allow_local_without_key:
        raise ConfigError(
            "server.allow_local_without_key is for `ponder serve` on a loopback address; behind Ray Serve "
            "every request needs a key (`ponder keys create`): unset PONDER_SERVER__ALLOW_LOCAL_WITHOUT_KEY."
        )
    if settings.database_url is None:
        log.warning(
            "no database_url: this replica keeps keys, sessions and jobs in its own SQLite file, unseen by "
            "the other replicas; set PONDER_DATABASE_URL=postgresql://... on every node"
        )
    from ponder.server import create_app  # the whole server: imported on the replica, not where Ray builds

    return create_app(settings)


class _PonderIngress:
    """The replica's class: no routes of its own, Ponder's app (``build_asgi_app``) answers them all."""


def deployment_options(values: Mapping[str, str]) -> dict[str, Any]:
    """Ray Serve deployment options from ``values`` (the names of ``OPTIONS``, as strings)."""
    unknown = sorted(set(values) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"Unknown Ray option(s) {', '.join(unknown)}: known are {', '.join(OPTIONS)}.")
    options: dict[str, Any] = {
        "max_ongoing_requests": _number(values, "max_ongoing_requests", 16, int),
        "ray_actor_options": {"num_cpus": _number(values, "num_cpus", 1.0, float, minimum=0.0)},
        "graceful_shutdown_timeout_s": _number(values, "graceful_shutdown_s", 60.0, float),
    }
    if "max_replicas" not in values:
        options["num_replicas"] = _number(values, "replicas", 2, int)
        return options
    low = _number(values, "min_replicas", 1, int)
    high = _number(values, "max_replicas", 1, int)
    if low > high:
        raise ConfigError(f"Ray option min_replicas ({low}) is above max_replicas ({high}).")
    options["autoscaling_config"] = {
        "min_replicas": low,
        "max_replicas": high,
        "target_ongoing_requests": _number(values, "target_ongoing_requests", 4.0, float),
    }
    return options


def build_app(args: Mapping[str, Any] | None = None) -> Any:
    """The Ray Serve application (a ``ray.serve.Application``): one deployment, ``Ponder``, whose options
    come from ``PONDER_RAY_*`` variables overridden by ``args`` (``serve run ...:build_app replicas=4``)."""
    values = {
        name.removeprefix(ENV_PREFIX).lower(): value
        for name, value in os.environ.items()
        if name.startswith(ENV_PREFIX)
    }
    values.update({name: str(value) for name, value in (args or {}).items()})
    ingress = serve.ingress(build_asgi_app)(_PonderIngress)
    deployment = serve.deployment(name=DEPLOYMENT_NAME, **deployment_options(values))(ingress)
    return deployment.bind()


def __getattr__(name: str) -> Any:
    # ``app`` is built when asked for (``serve run ponder.deploy.ray:app`` asks), not at import.
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _number(values: Mapping[str, str], name: str, default: _N, kind: type[_N], *, minimum: float = 1) -> _N:
    raw = values.get(name)
    if raw is None:
        return default
    where = f"Ray option {name} ({ENV_PREFIX}{name.upper()})"
    try:
        number = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{where} must be {what}, not {raw!r}.") from None
    if not math.isfinite(number) or number < minimum:
        raise ConfigError(f"{where} must be at least {minimum:g}, not {raw!r}.")
    return number
