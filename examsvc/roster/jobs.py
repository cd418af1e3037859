"""Running a pull in a child process, so face checks never run in the web process's loop."""

from __future__ import annotations

import os
import subprocess
import sys

from flask import Flask

# Settings the child needs to reach the same database, files and registry.
_PASSED = (
    "DATABASE_URL",
    "DATA_DIR",
    "REGISTRY_BASE_URL",
    "REGISTRY_TOKEN",
    "REGISTRY_CYCLE",
    "REGISTRY_TIMEOUT",
    "SECRET_KEY",
    "DEMO_MODE",
)


def child_env(app: Flask) -> dict[str, str]:
    env = dict(os.environ)
    for name in _PASSED:
        value = app.config.get(name)
        if value is not None:
            env[f"EXAMSVC_{name}"] = str(value).lower() if isinstance(value, bool) else str(value)
    env["EXAMSVC_INSTANCE_PATH"] = app.instance_path
    return env


# Pulls started from a page: kept so that they are reaped, not left as zombies.
_CHILDREN: list[subprocess.Popen[bytes]] = []


def spawn_pull(app: Flask) -> subprocess.Popen[bytes]:
    """Start ``examsvc roster pull`` in a child process (gevent's Popen when patched)."""
    _CHILDREN[:] = [child for child in _CHILDREN if child.poll() is None]
    child = subprocess.Popen(
        [sys.executable, "-m", "examsvc.cli", "roster", "pull"],
        env=child_env(app),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _CHILDREN.append(child)
    return child


def wait_children(timeout: float = 120) -> list[int]:
    """Wait for the pulls started here; their exit codes (for tests and shutdown)."""
    codes = [child.wait(timeout) for child in _CHILDREN]
    _CHILDREN.clear()
    return codes


def scheduled_pull(app: Flask) -> None:
    """The periodic job: one pull, waited for without blocking other greenlets."""
    spawn_pull(app).wait()


def pull_interval(app: Flask) -> float:
    return app.config["ROSTER_PULL_INTERVAL"] if app.config["REGISTRY_BASE_URL"] else 0
