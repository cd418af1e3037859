"""A few starts at a time in a web process (``EXAMSVC_START_CONCURRENCY``).

When a window opens for candidates who checked in (候考), a thousand 开始考试 taps arrive
within seconds. A start is several milliseconds of CPU that runs on the event loop without
yielding; hundreds of them runnable at once put every answer's acknowledgement behind them.
Here a start beyond the few in progress waits for its turn before its request touches the
database (so it holds no connection and no lock), and gives the turn back once its unit of
work has ended; answers are acknowledged between starts. A start that waited
``EXAMSVC_START_WAIT_SECONDS`` is answered 503 busy with ``retry_after`` and the page taps
again. ``0`` turns it off."""

from __future__ import annotations

import threading

from flask import Flask, current_app, g, request

from examsvc.web.errors import busy

KEY = "examsvc.start_turns"
STARTS = frozenset({"attempts_api.start", "attempts.prepare"})  # POST: 开始考试


def init_app(app: Flask) -> None:
    limit = app.config["START_CONCURRENCY"]
    app.extensions[KEY] = threading.BoundedSemaphore(limit) if limit > 0 else None

    @app.before_request
    def take_a_turn() -> None:
        turns: threading.BoundedSemaphore | None = current_app.extensions.get(KEY)
        if turns is None or request.method != "POST" or request.endpoint not in STARTS:
            return
        # gevent: a cooperative wait; nothing of the request has run yet
        if not turns.acquire(timeout=current_app.config["START_WAIT_SECONDS"]):
            raise busy("starts")
        g.start_turn = turns

    @app.teardown_request
    def give_it_back(exc: BaseException | None = None) -> None:
        turns = g.pop("start_turn", None)
        if turns is not None:
            turns.release()
