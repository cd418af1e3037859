"""A real server (``examsvc serve`` on gevent, demo data) and Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

CHROMIUM = os.environ.get("EXAMSVC_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@dataclass
class Server:
    url: str
    env: dict[str, str]
    log: Path

    def command(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "examsvc.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    port = _free_port()
    env = {
        **os.environ,
        "EXAMSVC_DEMO_MODE": "true",
        "EXAMSVC_INSTANCE_PATH": str(root),
        "EXAMSVC_DATABASE_URL": f"sqlite:///{root / 'e2e.db'}",
        "EXAMSVC_ROSTER_PULL_INTERVAL": "0",
        "EXAMSVC_FACE_WORKERS": "1",
    }
    env.pop("EXAMSVC_REDIS_URL", None)
    server = Server(f"http://127.0.0.1:{port}", env, root / "serve.log")
    server.command("db", "upgrade")
    server.command("demo", "load")
    with (
        server.log.open("wb") as log,
        subprocess.Popen(
            [sys.executable, "-m", "examsvc.cli", "serve", "--port", str(port), "--no-jobs"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(server.url + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)  # the server is starting: poll, bounded by the deadline
        else:
            process.kill()
            pytest.fail("the server did not start:\n" + server.log.read_text())
        yield server
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run scripts/bootstrap.sh --dev (installs Debian's chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def first_login(page, server: Server, login: str, new_password: str) -> None:
    """Log in with the initial password and make the forced change."""
    page.goto(server.url + "/login")
    page.fill("#login", login)
    page.fill("#password", "666666")
    page.click("button[type=submit]")
    page.fill("#old", "666666")
    page.fill("#new", new_password)
    page.fill("#repeat", new_password)
    page.click("button[type=submit]")
