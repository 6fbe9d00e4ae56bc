"""Test configuration: every test gets its own data and config directories, and no real network.

Real model and server tests live in tests/integration and are marked ``integration``; they too only ever
talk to servers on this machine.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ponder.config import PerceptionConfig
from ponder.perception import Perception, WhisperTranscriber
from ponder.perception.moonshine import MoonshineTranscriber
from ponder.perception.ocr import OcrEngine
from ponder.testing.media import ESPEAK, espeak

_real_connect = socket.socket.connect


def _loopback_only_connect(self: socket.socket, address: Any) -> Any:
    """Refuse any connection that leaves the machine: a test that tries has a bug (or a real API call)."""
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConnectionRefusedError(
                f"tests may not connect to {host}: only loopback servers are allowed"
            )
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only_connect)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Ponder's data and config at fresh directories, clear PONDER_* from the environment, and turn
    memory extraction off (see below)."""
    import os

    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith("PONDER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    # Learning facts after a turn is one more model call: scripted conversations would have to script it
    # everywhere. The memory tests turn it back on (PONDER_MEMORY__EXTRACT=true) and script that call.
    monkeypatch.setenv("PONDER_MEMORY__EXTRACT", "false")
    return home


POSTGRES_ENV = "POSTGRES_TEST_URL"  # scripts/test.sh starts PostgreSQL and sets it


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a real PostgreSQL server's test database (a role that may create schemas)."""
    import os

    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"needs PostgreSQL: set {POSTGRES_ENV} (scripts/test.sh starts a server and sets it)")
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty schema on the test server for this test alone, dropped afterwards."""
    import uuid

    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(postgres_server.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs twice: on a SQLite file, and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "ponder.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (apt-get install redis-server; scripts/test.sh installs it as root)")
    from ponder.testing.cluster import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def http_server() -> Iterator[Callable[..., str]]:
    """``http_server(argv, cwd=None)``: start ``argv + [PORT]`` (an MCP server over streamable HTTP) in
    ``cwd`` on a free local port, wait until it accepts connections, and return its MCP URL; every server
    started is killed after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], cwd: Path | None = None) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        process = subprocess.Popen([*argv, str(port)], cwd=cwd, stderr=subprocess.PIPE)
        processes.append(process)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return f"http://127.0.0.1:{port}/mcp"
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    _, err = process.communicate(timeout=5)
                    pytest.fail(f"{argv} did not start listening: {err.decode(errors='replace')}")
                time.sleep(0.05)

    yield start
    for process in processes:
        process.kill()
        process.communicate(timeout=10)


# --- perception: OCR and Whisper load once per session (they take seconds), for every test directory ---


@pytest.fixture(scope="session")
def perception_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def ocr() -> OcrEngine:
    return OcrEngine()


@pytest.fixture(scope="session")
def transcriber(perception_models_dir: Path) -> WhisperTranscriber:
    return WhisperTranscriber(perception_models_dir)


@pytest.fixture(scope="session")
def moonshine() -> MoonshineTranscriber:
    return MoonshineTranscriber()


@pytest.fixture
def perception(
    perception_models_dir: Path,
    ocr: OcrEngine,
    transcriber: WhisperTranscriber,
    moonshine: MoonshineTranscriber,
) -> Perception:
    """Perception with the default settings, its engines shared by the session."""
    transcribers = {"whisper-base": transcriber, "moonshine-tiny": moonshine}
    return Perception(PerceptionConfig(), perception_models_dir, ocr=ocr, transcribers=transcribers)


@pytest.fixture(scope="session")
def speak() -> Callable[..., bytes]:
    """espeak-ng as a function (text -> WAV bytes); the test is skipped, saying why, when it is missing."""
    if ESPEAK is None:
        pytest.skip("espeak-ng is not installed (Debian: apt install espeak-ng; scripts/test.sh installs it)")
    return espeak
