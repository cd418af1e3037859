"""Registration-photo checks on every core, for the roster pull.

The pull (a command or the scheduled child process, never the web loop) downloads a
page's photos on a few threads over the registry client's keep-alive connections and
hands each one, as it arrives, to the face pool's worker processes (one per core, models
loaded once). The results are collected before the page's unit of work opens, so the
page is still stored in one unit, as with the serial checker.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from proctoring.pool import FacePool

# A photo check's outcome: (ok, reason_code, reason_text, encoding bytes or None).
CheckResult = tuple[bool, str | None, str | None, bytes | None]


def as_result(answer: dict[str, Any]) -> CheckResult:
    """A ``registration_photo`` job's answer as the pull's checkers give it."""
    if answer.get("ok"):
        return True, None, None, answer.get("encoding")
    if "error" in answer:  # refused before the check (a FrameError)
        return False, answer["error"], answer.get("message_zh"), None
    return False, answer.get("reason_code"), answer.get("reason_zh"), None


class PhotoPool:
    """The face pool, sized to the cores, checking registration photos.

    Use as a context manager; ``submit`` queues one photo, ``__call__`` checks one and
    waits (so the pool is also a plain ``PhotoChecker``)."""

    def __init__(self, workers: int = 0, *, max_queue: int = 10_000) -> None:
        # The default thresholds, as the serial checker (``engine_photo_checker``) uses.
        self.pool = FacePool(workers, max_queue=max_queue)
        self.workers = self.pool.workers

    def __enter__(self) -> PhotoPool:
        self.pool.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.stop()

    def submit(self, data: bytes) -> Future[dict[str, Any]]:
        return self.pool.submit("registration_photo", {"image": data})

    def __call__(self, data: bytes) -> CheckResult:
        return as_result(self.submit(data).result())
