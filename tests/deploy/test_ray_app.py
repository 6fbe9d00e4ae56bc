"""ponder.deploy.ray: the Ray Serve application around Ponder's app, without a Ray cluster.

Ray Serve's local testing mode (``serve.run(app, _local_testing_mode=True)``) builds the replica in this
machine's process, the way a replica does: it calls our app builder and runs the app's lifespan, which is
what starts Ponder's job worker. It runs in a subprocess, so the replica's thread and event loop end with
it. Ray itself is not one of Ponder's extras: without ``ray[serve]`` those tests are skipped, and only the
message for a missing Ray is checked.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ponder.errors import ConfigError

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason='Ray Serve is not installed (pip install "ray[serve]"); Ponder does not depend on it',
)


def test_without_ray_the_import_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "ray.serve", None)
    monkeypatch.delitem(sys.modules, "ponder.deploy.ray", raising=False)
    importlib.import_module("ponder.deploy")  # the package itself needs nothing
    with pytest.raises(ImportError, match=r'pip install "ray\[serve\]"'):
        importlib.import_module("ponder.deploy.ray")


@needs_ray
def test_fixed_replicas_by_default_and_from_arguments() -> None:
    from ponder.deploy.ray import deployment_options

    assert deployment_options({}) == {
        "num_replicas": 2,
        "max_ongoing_requests": 16,
        "ray_actor_options": {"num_cpus": 1.0},
        "graceful_shutdown_timeout_s": 60.0,
    }
    assert deployment_options({"replicas": "5", "num_cpus": "0.5"})["num_replicas"] == 5


@needs_ray
def test_max_replicas_turns_autoscaling_on() -> None:
    from ponder.deploy.ray import deployment_options

    options = deployment_options({"min_replicas": "2", "max_replicas": "8", "replicas": "3"})
    assert "num_replicas" not in options
    assert options["autoscaling_config"] == {
        "min_replicas": 2,
        "max_replicas": 8,
        "target_ongoing_requests": 4.0,
    }


@needs_ray
@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"replicas": "two"}, r"\(PONDER_RAY_REPLICAS\) must be a whole number"),
        ({"replicas": "0"}, "must be at least 1"),
        ({"min_replicas": "4", "max_replicas": "2"}, "min_replicas .4. is above max_replicas .2."),
        ({"num_cpus": "nan"}, r"\(PONDER_RAY_NUM_CPUS\) must be at least 0"),
        ({"replica": "2"}, "Unknown Ray option.s. replica"),
    ],
)
def test_bad_options_are_config_errors(values: dict[str, str], problem: str) -> None:
    from ponder.deploy.ray import deployment_options

    with pytest.raises(ConfigError, match=problem):
        deployment_options(values)


@needs_ray
def test_the_environment_and_arguments_build_an_application(monkeypatch: pytest.MonkeyPatch) -> None:
    from ray import serve

    import ponder.deploy.ray as ponder_ray

    monkeypatch.setenv("PONDER_RAY_REPLICAS", "3")
    assert isinstance(ponder_ray.app, serve.Application)  # what `serve run ponder.deploy.ray:app` reads
    monkeypatch.setenv("PONDER_RAY_REPLICAS", "lots")
    with pytest.raises(ConfigError, match="PONDER_RAY_REPLICAS"):
        ponder_ray.build_app()
    assert isinstance(ponder_ray.build_app({"replicas": 4}), serve.Application)  # arguments win


@needs_ray
def test_keyless_mode_is_refused_behind_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    from ponder.deploy.ray import build_asgi_app

    monkeypatch.setenv("PONDER_SERVER__ALLOW_LOCAL_WITHOUT_KEY", "true")
    with pytest.raises(ConfigError, match="every request needs a key"):
        build_asgi_app()


_REPLICA = """
    import contextlib, json, os, threading
    import ponder.server
    from ray import serve
    import ponder.deploy.ray

    entered = threading.Event()
    built = []
    real_create_app = ponder.server.create_app

    def create_app(settings):  # Ponder's app, its lifespan observed
        app = real_create_app(settings)
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(a):
            async with inner(a) as value:
                entered.set()
                yield value

        app.router.lifespan_context = lifespan
        built.append(app)
        return app

    ponder.server.create_app = create_app
    serve.run(ponder.deploy.ray.app, _local_testing_mode=True)
    ran = entered.wait(30)
    state = built[0].state.ponder
    tasks = [t.get_coro().__qualname__ for t in list(state.background) if not t.done()]
    print(json.dumps({"lifespan": ran, "tasks": tasks, "model": state.settings.model}), flush=True)
    os._exit(0)  # the replica's loop thread ends with the process
"""


@needs_ray
def test_a_replica_runs_ponders_lifespan(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PONDER_", "RAY_"))}
    env |= {
        "PONDER_MODEL": "scripted:hello",
        "PONDER_SERVER__WARM": "false",
        "PONDER_DATABASE_URL": f"sqlite:///{tmp_path / 'ponder.db'}",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_REPLICA)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["lifespan"] is True
    assert found["model"] == "scripted:hello"
    assert "JobWorker.serve" in found["tasks"]  # the job worker runs in the replica
