"""The face engine as the web service uses it: a worker pool started with ``serve``.

Face work never runs in the gevent loop: under ``examsvc serve`` jobs go to the
process pool and the greenlet waits on the future. Elsewhere (commands, tests) there
is no event loop to protect and jobs run in the calling process.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from proctoring import jobs
from proctoring.config import FaceConfig
from proctoring.pool import FacePool, Priority

_pool: FacePool | None = None


def config_from_env() -> FaceConfig:
    """``EXAMSVC_FACE_ENTRY_THRESHOLD`` and friends override the calibrated defaults."""
    return FaceConfig.from_mapping(os.environ, prefix="EXAMSVC_FACE_")


def start(app: Flask) -> FacePool:
    global _pool
    if _pool is None:
        _pool = FacePool(app.config["FACE_WORKERS"], config=config_from_env()).start()
    return _pool


def stop() -> None:
    global _pool
    if _pool is not None:
        _pool.stop()
        _pool = None


def run(
    kind: str,
    payload: dict[str, Any],
    *,
    candidate: str | None = None,
    priority: Priority = Priority.ROUTINE,
    timeout: float = 60,
) -> dict[str, Any]:
    """Run a face job: on the pool when the service runs one, else here."""
    if _pool is not None:
        return _pool.submit(kind, payload, candidate=candidate, priority=priority).result(timeout)
    return jobs.run(kind, payload, config_from_env())


def metrics() -> dict[str, Any] | None:
    return _pool.metrics() if _pool is not None else None
