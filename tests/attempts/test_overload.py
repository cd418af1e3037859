"""Overload is shed on purpose: with every pooled database connection taken, a save, a start
and a socket event are answered 503 ``busy`` with when to retry (``Retry-After`` and
``retry_after``), never a 500 or a silent socket; nothing is half-written, and the same
requests succeed once a connection is free. Runs on SQLite and, with
EXAMSVC_TEST_DATABASE_URL, on PostgreSQL (a pool of one connection held by another thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import g
from prometheus_client import REGISTRY

from examsvc.attempts.events import NAMESPACE
from examsvc.attempts.models import Answer, Attempt, AttemptItem
from examsvc.extensions import db, socketio
from examsvc.web.errors import BUSY_RETRY_SECONDS
from tests.attempts.test_attempts import start
from tests.conftest import app_settings, running

BUSY = {"code": "busy", "message": "服务器繁忙，请稍后再试", "details": [], "retry_after": 2}


@pytest.fixture
def app(migrated_database, clock, tmp_path):
    """The shared fixture's app with a pool of one connection that waits 0.2 s for it."""
    settings = app_settings(
        migrated_database, clock, tmp_path, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=0.2
    )
    yield from running(settings)


@contextmanager
def pool_taken() -> Iterator[None]:
    """The pool's only connection, checked out (in a transaction) by another thread for the
    duration of the block, as a slow request would hold it."""
    db.session.remove()  # this thread's session gives its connection back first
    engine = db.engine
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join()


def shed(channel: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "examsvc_shed_total", {"channel": channel, "cause": "database_pool"}
        )
        or 0.0
    )


def option_of(attempt_id: int, position: int) -> str:
    item = db.session.scalars(
        sa.select(AttemptItem).where(
            AttemptItem.attempt_id == attempt_id, AttemptItem.position == position
        )
    ).one()
    option = str(sorted(item.question.data["options"])[0])
    db.session.remove()
    return option


def stored(attempt_id: int) -> list[tuple[int, object, int]]:
    rows = db.session.execute(
        sa.select(AttemptItem.position, Answer.response, Answer.seq)
        .join(AttemptItem, AttemptItem.id == Answer.item_id)
        .where(Answer.attempt_id == attempt_id)
    ).all()
    db.session.remove()
    return [tuple(r) for r in rows]


def test_the_settings_size_the_pool(app):
    pool = db.engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (1, 0, 0.2)  # type: ignore[attr-defined]


def test_a_start_and_a_save_without_a_connection_answer_busy_then_succeed(candidate, exam):
    paper_id = exam["paper"].id
    with pool_taken():
        refused = start(candidate, paper_id)
        page = candidate.post(f"/exam/paper/{paper_id}", data={"rules": "on"})
    # 【开始考试】 as a form: the error page says busy (without the menu, which needs the
    # database), never a 500 or a traceback.
    assert page.status_code == 503 and page.headers["Retry-After"] == "2"
    text = page.get_data(as_text=True)
    assert "服务器繁忙，请稍后再试" in text and "Traceback" not in text
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == str(BUSY_RETRY_SECONDS)
    assert refused.get_json() == {"error": BUSY}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 0
    db.session.remove()

    started = start(candidate, paper_id)
    assert started.status_code == 201
    attempt_id = started.get_json()["id"]
    url = f"/api/v1/exam/attempts/{attempt_id}/answers/1"
    option = option_of(attempt_id, 1)
    before = shed("http")
    with pool_taken():
        busy = candidate.put(url, json={"response": option, "seq": 1})
    assert busy.status_code == 503 and busy.get_json() == {"error": BUSY}
    assert busy.headers["Retry-After"] == "2"
    assert shed("http") == before + 1
    assert stored(attempt_id) == []  # nothing half-written
    last_seq = db.session.get(Attempt, attempt_id).last_seq
    db.session.remove()
    assert last_seq == 0

    # The page's journal sends the same save again after retry_after: stored once.
    again = candidate.put(url, json={"response": option, "seq": 1})
    assert again.status_code == 200 and again.get_json()["code"] == "saved"
    replayed = candidate.put(url, json={"response": option, "seq": 1})
    assert replayed.get_json()["code"] == "stale"
    assert stored(attempt_id) == [(1, option, 1)]


def test_a_socket_answer_without_a_connection_is_acknowledged_busy(app, candidate, exam):
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    option = option_of(attempt_id, 2)
    g.pop("user", None)  # the test's app context outlives requests: a connect reads the user anew
    channel = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=candidate)
    assert channel.is_connected(NAMESPACE)
    message = {"attempt_id": attempt_id, "position": 2, "response": option, "seq": 1}
    before = shed("socket")
    with pool_taken():
        ack = channel.emit("answer", message, namespace=NAMESPACE, callback=True)
        # A page that connects meanwhile is refused (busy), not left without an answer.
        g.pop("user", None)
        late = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=candidate)
        assert not late.is_connected(NAMESPACE)
    assert ack == {"ok": False, "status": 503, "error": BUSY}
    assert shed("socket") == before + 2
    assert stored(attempt_id) == []

    ack = channel.emit("answer", message, namespace=NAMESPACE, callback=True)
    assert ack["ok"] is True and ack["code"] == "saved" and ack["seq"] == 1
    assert stored(attempt_id) == [(2, option, 1)]
    channel.disconnect(NAMESPACE)


def test_a_lost_database_stays_database_unavailable_not_busy(app, client):
    """The two 503s stay distinct: busy is this process's overload, database_unavailable a
    database that went away (tests/test_errors.py, tests/faults/test_postgres.py)."""

    def dropped() -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    app.add_url_rule("/api/v1/dropped", "dropped", dropped)
    answer = client.get("/api/v1/dropped")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    assert answer.get_json()["error"]["retry_after"] == 2
