"""A redis-server of a test's own, on a free port (never the machine's Redis): it can be
stopped and started again (empty: no persistence), or paused and resumed (``SIGSTOP`` /
``SIGCONT``: its connections stay open and nothing answers — a hung Redis, or one cut off
by the network without the connections closing)."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.e2e.conftest import _free_port
from tests.faults.conftest import poll


class OwnRedis:
    def __init__(self, root: Path) -> None:
        self.port = _free_port()
        self.root = root
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url)

        def up() -> bool:
            try:
                return bool(client.ping())
            except RedisConnectionError:
                return False

        try:
            poll(up, timeout=15, what="redis-server answers")
        finally:
            client.close()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a paused server dies as well
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def own_redis(root: Path) -> Iterator[OwnRedis]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = OwnRedis(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
