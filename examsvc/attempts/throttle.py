"""The steps into an exam take turns in a web process (``EXAMSVC_START_CONCURRENCY``).

When a window opens for candidates who checked in (候考), a thousand 开始考试 taps arrive
within seconds, and each is followed by the exam page and its state. Each of these steps is
milliseconds of CPU on the event loop without yielding; hundreds of them runnable at once
put every answer's acknowledgement behind them. Here a step beyond the few in progress waits
for its turn before its request touches the database (so it holds no connection and no
lock), and gives the turn back once its unit of work has ended; answers, which never wait
for a turn, are acknowledged between steps. A step that waited too long is answered 503
busy with ``retry_after``: a start after ``EXAMSVC_START_WAIT_SECONDS`` (the page taps
again), the exam page after the same, the state after ``STATE_WAIT_SECONDS`` (the exam page
gives up on a request after 15 s and asks again). ``0`` turns it off."""

from __future__ import annotations

import threading

from flask import Flask, current_app, g, request

from examsvc.web.errors import busy

KEY = "examsvc.start_turns"
STATE_WAIT_SECONDS = 10.0
# (method, endpoint) → the cause a busy answer counts under
STEPS = {
    ("POST", "attempts_api.start"): "starts",  # 开始考试, from the API
    ("POST", "attempts.prepare"): "starts",  # 开始考试, the rules page's form
    ("GET", "attempts.exam"): "exam_page",
    ("GET", "attempts_api.state"): "exam_state",
}


def init_app(app: Flask) -> None:
    limit = app.config["START_CONCURRENCY"]
    app.extensions[KEY] = threading.BoundedSemaphore(limit) if limit > 0 else None

    @app.before_request
    def take_a_turn() -> None:
        turns: threading.BoundedSemaphore | None = current_app.extensions.get(KEY)
        cause = STEPS.get((request.method, request.endpoint or ""))
        if turns is None or cause is None:
            return
        wait = current_app.config["START_WAIT_SECONDS"]
        if cause == "exam_state":
            wait = min(wait, STATE_WAIT_SECONDS)
        # gevent: a cooperative wait; nothing of the request has run yet
        if not turns.acquire(timeout=wait):
            raise busy(cause)
        g.start_turn = turns

    @app.teardown_request
    def give_it_back(exc: BaseException | None = None) -> None:
        turns = g.pop("start_turn", None)
        if turns is not None:
            turns.release()
