"""The fault suite: real ``examsvc serve`` processes that are killed, cut off from their
clients, their database, Redis or the registration system, and must come back with nothing
acknowledged lost. Waits are bounded polls on conditions, never sleeps for time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    SERVERS,
    Server,
    _free_port,
    demo_database,
    demo_env,
    fresh_database,
    wait_until_serving,
)


def poll(condition: Callable[[], object], timeout: float = 30, what: str = "") -> object:
    """Call ``condition`` until it returns something truthy (returned), at most ``timeout``
    seconds; fail saying ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout}s: {what or condition}")
        time.sleep(0.05)  # the poll's own interval, bounded by the deadline


def close(client) -> None:
    """Disconnect a python-socketio client, also when its server died under it (then the
    client leaves its WebSocket open)."""
    ws = client.eio.ws
    client.disconnect()
    if ws is not None:
        ws.close()
        ws.shutdown()  # close() does nothing on a socket the server already closed


# For the tests that need the real PostgreSQL server (its locks, its connections): with
# ``fault_database``, the run's own server (``EXAMSVC_TEST_DATABASE_URL``, CI's second pass).
postgres_only = pytest.mark.skipif(
    not os.environ.get("EXAMSVC_TEST_DATABASE_URL"),
    reason="PostgreSQL only: run with EXAMSVC_TEST_DATABASE_URL (CI's second pass)",
)


@pytest.fixture
def fault_database() -> Iterator[dict[str, str]]:
    """The server's database: a fresh PostgreSQL database when ``EXAMSVC_TEST_DATABASE_URL``
    is set, else the SQLite file of ``demo_env``."""
    with fresh_database("examsvc_fault") as settings:
        yield settings


class Service:
    """A demo ``examsvc serve`` on a fixed port that can be killed and started again."""

    def __init__(self, root: Path, jobs: bool = False, **extra_env: str) -> None:
        self.port = _free_port()
        self.server = Server(
            f"http://127.0.0.1:{self.port}", demo_env(root, **extra_env), root / "serve.log"
        )
        self.url = self.server.url
        self.jobs = jobs
        self.process: subprocess.Popen[bytes] | None = None
        SERVERS[self.url] = self.server
        demo_database(self.server)

    def start(self) -> None:
        command = [sys.executable, "-m", "examsvc.cli", "serve", "--port", str(self.port)]
        with self.server.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command] + ([] if self.jobs else ["--no-jobs"]),
                env=self.server.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until_serving(self.url, self.process, self.server.log)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, the process just dies."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def service(root: Path, jobs: bool = False, **extra_env: str) -> Iterator[Service]:
    running = Service(root, jobs, **extra_env)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        SERVERS.pop(running.url, None)
