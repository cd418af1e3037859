"""A few starts at a time in a web process (``EXAMSVC_START_CONCURRENCY``).

When a window opens for candidates who checked in (候考), a thousand 开始考试 taps arrive
within seconds. A start is several milliseconds of CPU that runs on the event loop without
yielding; hundreds of them runnable at once put every answer's acknowledgement behind them.
Here starts beyond the few in progress wait their turn (in order, holding no database
connection), so answers are acknowledged between starts; a start that waited
``EXAMSVC_START_WAIT_SECONDS`` is answered 503 busy with ``retry_after``, and the page taps
again. ``0`` turns it off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app

from examsvc import uow
from examsvc.web.errors import busy

KEY = "examsvc.start_turns"


def init_app(app: Flask) -> None:
    limit = app.config["START_CONCURRENCY"]
    app.extensions[KEY] = threading.BoundedSemaphore(limit) if limit > 0 else None


@contextmanager
def turn() -> Iterator[None]:
    """Hold one of the process's start turns while starting (gevent: a cooperative wait)."""
    turns: threading.BoundedSemaphore | None = current_app.extensions.get(KEY)
    if turns is None:
        yield
        return
    if not turns.acquire(blocking=False):
        uow.release_if_read_only()  # waiting holds no pooled connection
        if not turns.acquire(timeout=current_app.config["START_WAIT_SECONDS"]):
            raise busy("starts")
    try:
        yield
    finally:
        turns.release()
