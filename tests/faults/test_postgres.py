"""PostgreSQL drops the server's connections (``pg_terminate_backend`` on the test database,
which needs no root and leaves other databases alone) while candidates save: every request
either succeeds or fails cleanly (a retryable 503 in the one error shape, never a 500 with a
traceback), succeeds again afterwards, and leaves no half-written state."""

from __future__ import annotations

import threading

import pytest
import requests
import socketio
import sqlalchemy as sa

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import (
    cookie_header,
    physician_session,
    server_database,
    some_answer,
    start_first_paper,
)
from tests.faults.conftest import close, poll, postgres_only, service

pytestmark = [pytest.mark.faults, postgres_only]


def terminate(database_url: str) -> int:
    """Terminate every other connection to the database of ``database_url``."""
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return len(
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        engine.dispose()


def test_terminated_database_connections_fail_cleanly_and_recover(tmp_path, fault_database):
    url = fault_database["EXAMSVC_DATABASE_URL"]
    with service(tmp_path, **fault_database) as svc:
        number = demo_id(PHYSICIANS[1][0], PHYSICIANS[1][8])
        http = physician_session(svc.url, number, "Pg-Doc-2026")
        started = start_first_paper(svc.url, http)
        attempt_id = started["id"]
        items = [i for i in started["items"] if some_answer(i) is not None]
        client = socketio.Client(reconnection=False)
        client.connect(
            svc.url, namespaces=["/exam"], headers=cookie_header(http), transports=["websocket"]
        )
        acked: dict[int, int] = {}
        refused: list[dict] = []
        http_answers: list[requests.Response] = []
        seq = 0
        stop = threading.Event()

        def save() -> dict:
            nonlocal seq
            seq += 1
            item = items[seq % len(items)]
            ack = client.call(
                "answer",
                {
                    "attempt_id": attempt_id,
                    "position": item["position"],
                    "response": some_answer(item),
                    "marked": False,
                    "seq": seq,
                },
                namespace="/exam",
                timeout=10,
            )
            if ack["ok"]:
                acked[item["position"]] = seq
            else:
                refused.append(ack)
            return ack

        def saving() -> None:
            while not stop.is_set():
                save()
                http_answers.append(
                    http.get(f"{svc.url}/api/v1/exam/attempts/{attempt_id}", timeout=10)
                )

        assert save()["ok"]
        saver = threading.Thread(target=saving)
        saver.start()
        try:
            for round_ in range(5):  # cut the connections under the running saves
                poll(lambda n=round_: len(http_answers) > 3 * (n + 1), what="requests go on")
                assert terminate(url) >= 1
        finally:
            stop.set()
            saver.join(timeout=30)

        # Every refusal is clean: a retryable 503 in the one shape, never a 500.
        for ack in refused:
            assert ack["status"] == 503 and ack["error"]["code"] == "database_unavailable", ack
        for answer in http_answers:
            assert answer.status_code in (200, 503), answer.text
            if answer.status_code == 503:
                assert answer.json()["error"]["code"] == "database_unavailable"
                assert answer.headers["Retry-After"]
                assert "Traceback" not in answer.text
        # And it works again: a save and the state, then the HTML page too.
        assert poll(lambda: save()["ok"], what="a save after the cut")
        state = http.get(f"{svc.url}/api/v1/exam/attempts/{attempt_id}", timeout=10)
        assert state.ok
        saved = {i["position"]: i["seq"] for i in state.json()["items"] if i["seq"]}
        for position, s in acked.items():
            assert saved[position] >= s
        close(client)

        from examsvc.attempts.models import Answer, Attempt
        from examsvc.extensions import db

        with server_database(svc.url):
            attempt = db.session.get(Attempt, attempt_id)
            top = db.session.scalar(
                sa.select(sa.func.max(Answer.seq)).where(Answer.attempt_id == attempt_id)
            )
            # No half-written save: the attempt's counter and its answers agree.
            assert attempt.last_seq >= top
        http.close()
