"""Scale-out (docs/deployment.md): two web processes on one database and one Redis — A a
gunicorn with the project's config (``-c python:examsvc.gunicorn_conf``, the gevent
worker), B ``examsvc serve`` — and a real RQ face worker. The invigilators' wall is
connected to A, the candidate to B: the candidate's start and snapshot (analysed by the
worker) reach the wall on A; the invigilator's warning sent through A reaches the
candidate's socket on B. Real processes, real Socket.IO clients, real Redis."""

from __future__ import annotations

import queue
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import socketio
import sqlalchemy as sa

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.conftest import REDIS_URL
from tests.e2e.conftest import (
    Server,
    _free_port,
    cookie_header,
    fresh_database,
    launch,
    physician_session,
    server_database,
    start_first_paper,
    stop,
    wait_until_serving,
)
from tests.e2e.test_exam_camera import face_worker

pytestmark = pytest.mark.redis


@contextmanager
def gunicorn(server: Server, root: Path) -> Iterator[str]:
    """A second web process on ``server``'s database, data and Redis: gunicorn with the
    project's config, as docs/deployment.md runs it. Stopped afterwards, also on failure."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "gunicorn.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:examsvc.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        "examsvc.wsgi:app",
    ]
    with (
        log.open("wb") as out,
        subprocess.Popen(command, env=server.env, stdout=out, stderr=subprocess.STDOUT) as process,
    ):
        try:
            wait_until_serving(url, process, log)
            yield url
        finally:
            stop(process)


@pytest.fixture
def shared_database() -> Iterator[dict[str, str]]:
    """The processes' one database: a fresh PostgreSQL database when the run is on
    PostgreSQL (``EXAMSVC_TEST_DATABASE_URL``, as deployed at scale), else ``launch``'s
    SQLite file."""
    with fresh_database("examsvc_scale") as settings:
        yield settings


def staff_session(base: str, login: str, password: str) -> requests.Session:
    http = requests.Session()
    token = http.get(base + "/api/v1/session", timeout=10).json()["csrf_token"]
    answer = http.post(
        base + "/api/v1/session",
        json={"login": login, "password": password},
        headers={"X-CSRFToken": token},
        timeout=10,
    )
    assert answer.ok, answer.text
    return http


def make_session(server: Server, registration_ids: list[str]) -> int:
    """A session of the humanities paper's regular window, watched by the demo invigilator."""
    from examsvc.accounts.models import User
    from examsvc.enums import WindowRound
    from examsvc.extensions import db
    from examsvc.invigilation import operations as ops
    from examsvc.papers.models import ExamWindow, Paper

    with server_database(server.url):
        window = db.session.scalars(
            sa.select(ExamWindow)
            .join(Paper)
            .where(Paper.code == "HUM-2026", ExamWindow.round == WindowRound.REGULAR)
        ).one()
        session = ops.create_session(window, "扩容考场", None)
        proctor = db.session.scalars(sa.select(User).where(User.login == "jiankao")).one()
        ops.assign_invigilators(session, [proctor.id])
        ops.assign_candidates(session, registration_ids)
        db.session.commit()
        return session.id


def channel(base: str, http: requests.Session, namespace: str, events: list[str]):
    """A Socket.IO client on ``namespace`` of ``base`` with ``http``'s cookie; what the
    server sends of ``events`` arrives on the returned queue as (event, data)."""
    client = socketio.Client(reconnection=False)
    inbox: queue.Queue = queue.Queue()
    for name in events:
        client.on(name, lambda data, name=name: inbox.put((name, data)), namespace=namespace)
    client.connect(
        base,
        namespaces=[namespace],
        headers=cookie_header(http),
        transports=["websocket"],
        wait_timeout=10,
    )
    return client, inbox


def next_card(inbox: queue.Queue, attempt_id: int, until, timeout: float = 60) -> dict:
    """The first ``candidate`` card of ``attempt_id`` for which ``until(card)`` holds."""
    seen = []
    try:
        while True:
            _, data = inbox.get(timeout=timeout)
            card = data["card"]
            seen.append(card)
            if card["attempt_id"] == attempt_id and until(card):
                return card
    except queue.Empty:
        pytest.fail(f"no such card on the wall within {timeout}s: {seen}")


def test_two_web_processes_a_face_worker_and_redis_deliver_the_same_events(
    redis, tmp_path, faces_photos, shared_database
):
    prefix = f"test-{uuid.uuid4().hex[:12]}-"
    root = tmp_path / "server"
    with (
        launch(
            root, EXAMSVC_REDIS_URL=REDIS_URL, EXAMSVC_FACE_QUEUE_PREFIX=prefix, **shared_database
        ) as b,
        gunicorn(b, tmp_path) as a,
        face_worker(b, prefix, tmp_path / "worker.log"),
    ):
        assert a != b.url
        session_id = make_session(b, ["DEMO-0001"])
        number = demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8])

        # The wall on A.
        proctor = staff_session(a, "jiankao", "Demo-Proctor-2026")
        wall, cards = channel(a, proctor, "/invigilate", ["candidate"])
        try:
            joined = wall.call("join", {"session_id": session_id}, namespace="/invigilate")
            assert joined["ok"] and [c["state"] for c in joined["cards"]] == ["not_started"]

            # The candidate on B: logs in, starts (HTTP on B), connects to B's /exam.
            doc = physician_session(b.url, number, "Scale-Doc-2026")
            attempt_id = start_first_paper(b.url, doc)["id"]
            card = next_card(cards, attempt_id, lambda c: c["state"] == "in_progress")
            assert card["name"] == PHYSICIANS[0][1]

            candidate, inbox = channel(b.url, doc, "/exam", ["warning", "voided"])
            try:
                assert candidate.call("exam_join", {"attempt_id": attempt_id}, namespace="/exam")[
                    "ok"
                ]
                # A snapshot with two people in it, stored by B, analysed by the RQ worker,
                # whose decision reaches the wall on A.
                image = faces_photos["two"]
                ack = candidate.call(
                    "snapshot",
                    {"attempt_id": attempt_id, "image": image},
                    namespace="/exam",
                    timeout=30,
                )
                assert ack["ok"], ack
                card = next_card(
                    cards,
                    attempt_id,
                    lambda c: any(f["code"] == "multiple_faces" for f in c["flags"]),
                )
                assert card["thumb_id"] == ack["id"] and card["connection"] == "connected"
                # The wall fetches the evidence from A (the file B stored, the shared folder).
                thumb = proctor.get(f"{a}/invigilate/evidence/{card['thumb']}", timeout=10)
                assert thumb.ok and thumb.content[:3] == b"\xff\xd8\xff"
                assert "no-store" in thumb.headers["Cache-Control"]

                # The invigilator warns through A; the candidate's socket on B hears it.
                sent = wall.call(
                    "warn",
                    {"attempt_id": attempt_id, "message": "请一人独立作答"},
                    namespace="/invigilate",
                )
                assert sent["ok"], sent
                name, warning = inbox.get(timeout=10)
                assert name == "warning" and warning["message"] == "请一人独立作答"
                assert warning["id"] == sent["id"]
                # And a void: the candidate on B is told at once, the wall on A sees it.
                assert wall.call(
                    "void",
                    {"attempt_id": attempt_id, "reason": "他人代考"},
                    namespace="/invigilate",
                )["ok"]
                name, voided = inbox.get(timeout=10)
                assert name == "voided" and voided == {
                    "attempt_id": attempt_id,
                    "reason": "他人代考",
                }
                next_card(cards, attempt_id, lambda c: c["state"] == "voided", timeout=10)
            finally:
                candidate.disconnect()
        finally:
            wall.disconnect()
        # The snapshot was analysed by the RQ worker, not by a web process's own pool.
        worker = (tmp_path / "worker.log").read_text()
        assert f"'snapshot_id': {ack['id']}" in worker and "Job OK" in worker
