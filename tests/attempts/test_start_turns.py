"""A few starts at a time (``attempts.throttle``): a start beyond ``EXAMSVC_START_CONCURRENCY``
waits its turn holding no pooled database connection, and one that waited
``EXAMSVC_START_WAIT_SECONDS`` is answered 503 busy (counted, nothing stored); the page taps
again and starts. Real threads, a real semaphore, a pool of one connection."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from examsvc import create_app
from examsvc.attempts import throttle
from examsvc.attempts.models import Attempt
from examsvc.extensions import db
from tests.attempts.test_attempts import start
from tests.attempts.test_overload import BUSY
from tests.conftest import app_settings, running


@pytest.fixture
def app(migrated_database, clock, tmp_path):
    """One start at a time, waiting at most 0.3 s; a pool of one connection."""
    settings = app_settings(
        migrated_database,
        clock,
        tmp_path,
        START_CONCURRENCY=1,
        START_WAIT_SECONDS=0.3,
        DB_POOL_SIZE=1,
        DB_MAX_OVERFLOW=0,
        DB_POOL_TIMEOUT=5,
    )
    yield from running(settings)


class Turns(threading.BoundedSemaphore):
    """The process's real semaphore, telling when a start began to wait for its turn."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.waiting = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if blocking:
            self.waiting.set()
        return super().acquire(blocking, timeout)


def shed_starts() -> float:
    sample = {"channel": "http", "cause": "starts"}
    return REGISTRY.get_sample_value("examsvc_shed_total", sample) or 0.0


def attempts() -> int:
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Attempt))
    db.session.remove()
    return int(count or 0)


def test_a_start_without_a_turn_in_time_is_busy_and_stores_nothing(app, candidate, exam):
    paper_id = exam["paper"].id
    turns = app.extensions[throttle.KEY]
    before = shed_starts()
    assert turns.acquire(blocking=False)  # another start holds the only turn
    try:
        refused = start(candidate, paper_id)
        page = candidate.post(f"/exam/paper/{paper_id}", data={"rules": "on"})
    finally:
        turns.release()
    assert refused.status_code == 503 and refused.get_json() == {"error": BUSY}
    assert refused.headers["Retry-After"] == "2"
    assert page.status_code == 503 and "服务器繁忙，请稍后再试" in page.get_data(as_text=True)
    assert shed_starts() == before + 2
    assert attempts() == 0
    # A start refused by the rules gives its turn back too: the next one gets it at once.
    url = f"/api/v1/exam/papers/{paper_id}/attempts"
    for _ in range(2):
        refused = candidate.post(url, json={"rules_acknowledged": False})
        assert refused.get_json()["error"]["code"] == "rules_not_acknowledged"
    started = start(candidate, paper_id)  # tapped again, with a turn free
    assert started.status_code == 201, started.get_json()
    assert attempts() == 1
    assert shed_starts() == before + 2


def test_a_waiting_start_holds_no_connection_and_starts_when_its_turn_comes(app, candidate, exam):
    app.config["START_WAIT_SECONDS"] = 30
    paper_id = exam["paper"].id
    turns = app.extensions[throttle.KEY] = Turns(1)
    db.session.remove()
    assert turns.acquire(blocking=False)
    answers: list = []
    waiting = threading.Thread(target=lambda: answers.append(start(candidate, paper_id)))
    waiting.start()
    try:
        assert turns.waiting.wait(10)
        # The pool's only connection is free while the start waits: answers get it.
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        assert waiting.is_alive() and answers == []
    finally:
        turns.release()
    waiting.join(30)
    assert answers and answers[0].status_code == 201, answers and answers[0].get_json()
    assert attempts() == 1


def test_no_limit_with_zero(migrated_database, clock, tmp_path):
    app = create_app(app_settings(migrated_database, clock, tmp_path, START_CONCURRENCY=0))
    assert app.extensions[throttle.KEY] is None
