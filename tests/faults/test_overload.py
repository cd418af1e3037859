"""A real server out of database connections sheds on purpose. The server runs with a pool
of one connection (timeout 0.2 s); a transaction of the test's holds a lock on the answers
table, so the server's first save waits on it holding that one connection — as a slow
statement would under load. Meanwhile every other save, start and socket event is answered
503 ``busy`` with when to retry, never a 500 and never left without an acknowledgement;
once the lock goes, the waiting save completes and the refused ones, sent again, are stored
once each. PostgreSQL only (on SQLite a lock wait blocks the whole gevent process)."""

from __future__ import annotations

import threading

import pytest
import socketio
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    browser,
    cookie_header,
    physician_session,
    server_database,
    some_answer,
    start_first_paper,
)
from tests.faults.conftest import close, poll, postgres_only, service

pytestmark = [pytest.mark.faults, postgres_only]

__all__ = ["browser"]  # the fixture
TINY_POOL = {"EXAMSVC_DB_POOL_SIZE": "1", "EXAMSVC_DB_MAX_OVERFLOW": "0"}


def waiting_on_a_lock(conn: sa.Connection) -> bool:
    return bool(
        conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        ).scalar()
    )


def test_a_server_out_of_connections_answers_busy_and_recovers(tmp_path, fault_database):
    url = fault_database["EXAMSVC_DATABASE_URL"]
    env = {**fault_database, **TINY_POOL, "EXAMSVC_DB_POOL_TIMEOUT": "0.2"}
    with service(tmp_path, **env) as svc:
        number = demo_id(PHYSICIANS[1][0], PHYSICIANS[1][8])
        http = physician_session(svc.url, number, "Busy-Doc-2026")
        started = start_first_paper(svc.url, http)
        attempt_id = started["id"]
        paper_id = http.get(svc.url + "/api/v1/exam").json()["papers"][0]["paper_id"]
        items = [i for i in started["items"] if some_answer(i) is not None][:3]
        assert len(items) == 3
        client = socketio.Client(reconnection=False)
        client.connect(
            svc.url, namespaces=["/exam"], headers=cookie_header(http), transports=["websocket"]
        )
        token = {"X-CSRFToken": http.get(svc.url + "/api/v1/session").json()["csrf_token"]}

        def message(n: int) -> dict:
            item = items[n - 1]
            return {
                "attempt_id": attempt_id,
                "position": item["position"],
                "response": some_answer(item),
                "seq": n,
            }

        def put(n: int):
            body = {k: v for k, v in message(n).items() if k in ("response", "seq")}
            path = f"/api/v1/exam/attempts/{attempt_id}/answers/{items[n - 1]['position']}"
            return http.put(svc.url + path, json=body, headers=token, timeout=30)

        locker = sa.create_engine(url)
        first: dict = {}
        with locker.connect() as conn, locker.connect() as watch:
            conn.execute(sa.text("LOCK TABLE answers IN ACCESS EXCLUSIVE MODE"))
            # Save 1 takes the server's only connection and waits on the lock with it.
            waiter = threading.Thread(
                target=lambda: first.update(
                    client.call("answer", message(1), namespace="/exam", timeout=60)
                )
            )
            waiter.start()
            poll(lambda: waiting_on_a_lock(watch), what="the first save waits on the lock")

            refused = put(2)
            ack = client.call("answer", message(3), namespace="/exam", timeout=30)
            start = http.post(
                f"{svc.url}/api/v1/exam/papers/{paper_id}/attempts",
                json={"rules_acknowledged": True},
                headers=token,
                timeout=30,
            )
            conn.rollback()  # the lock goes
        waiter.join(timeout=60)
        locker.dispose()

        busy = {
            "code": "busy",
            "message": "服务器繁忙，请稍后再试",
            "details": [],
            "retry_after": 2,
        }
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
        assert refused.json() == {"error": busy}
        assert ack == {"ok": False, "status": 503, "error": busy}
        assert start.status_code == 503 and start.json() == {"error": busy}
        assert first["ok"] is True and first["code"] == "saved"  # it waited, then was stored

        # Sent again after the pause, as the page's journal does: stored once each.
        assert put(2).json()["code"] == "saved"
        again = client.call("answer", message(3), namespace="/exam", timeout=30)
        assert again["ok"] is True and again["code"] == "saved"
        assert put(2).json()["code"] == "stale"
        close(client)

        shed = {
            sample.labels["channel"]: sample.value
            for family in text_string_to_metric_families(
                http.get(svc.url + "/metrics", timeout=10).text
            )
            for sample in family.samples
            if sample.name == "examsvc_shed_total" and sample.labels["cause"] == "database_pool"
        }
        assert shed == {"http": 2.0, "socket": 1.0}  # the save and the start; the event

        from examsvc.attempts.models import Answer, Attempt, AttemptItem
        from examsvc.extensions import db

        with server_database(svc.url):
            rows = db.session.execute(
                sa.select(AttemptItem.position, Answer.seq)
                .join(AttemptItem, AttemptItem.id == Answer.item_id)
                .where(Answer.attempt_id == attempt_id)
            ).all()
            assert sorted(rows) == sorted((items[n - 1]["position"], n) for n in (1, 2, 3))
            attempt = db.session.get(Attempt, attempt_id)
            assert attempt.last_seq >= 3  # no half-written save: counter and answers agree
            count = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Attempt)
                .where(Attempt.physician_id == attempt.physician_id)
            )
            assert count == 1  # the refused start began nothing
        http.close()


@pytest.mark.browser
def test_the_exam_page_says_busy_keeps_the_answer_and_sends_it_after(
    tmp_path, fault_database, browser
):
    from tests.e2e.conftest import look
    from tests.e2e.test_exam_flow import _first_attempt

    url = fault_database["EXAMSVC_DATABASE_URL"]
    env = {**fault_database, **TINY_POOL, "EXAMSVC_DB_POOL_TIMEOUT": "0.2"}
    with service(tmp_path, **env) as svc:
        page, attempt_id = _first_attempt(browser, svc.server, 0, "Busy-Page-2026")
        status = page.locator("#save-status")
        locker = sa.create_engine(url)
        with locker.connect() as conn, locker.connect() as watch:
            conn.execute(sa.text("LOCK TABLE answers IN ACCESS EXCLUSIVE MODE"))
            page.locator("#q1 .option input").first.check()  # waits on the lock
            poll(lambda: waiting_on_a_lock(watch), what="the first save waits on the lock")
            page.click("#next")
            page.locator("#q2 .option input").first.check()  # answered busy
            page.wait_for_function(
                "document.getElementById('save-status').textContent.includes('服务器繁忙')"
            )
            assert status.inner_text() == "服务器繁忙，答案已保存在本机，稍后自动重试"
            look(page, "exam-busy")
            conn.rollback()
        locker.dispose()
        # The pause ends (2–4 s): the journal sends the kept answer, and the page says so.
        page.wait_for_function(
            "document.getElementById('save-status').textContent === '已保存'", timeout=30_000
        )
        from examsvc.attempts.models import Answer, AttemptItem
        from examsvc.extensions import db

        with server_database(svc.url):
            positions = db.session.scalars(
                sa.select(AttemptItem.position)
                .select_from(Answer)
                .join(AttemptItem, AttemptItem.id == Answer.item_id)
                .where(Answer.attempt_id == attempt_id)
            ).all()
        assert sorted(positions) == [1, 2]
        page.context.close()
