"""Snapshots and page events over the real Socket.IO test client, analysed by the real face
engine: stored under DATA_DIR, acknowledged at once with the next time, analysed after the
event's unit (answers never wait), refused in the one error shape."""

from __future__ import annotations

import re
import socket
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from flask import g

from examsvc import face_worker as worker
from examsvc.attempts.models import AttemptItem
from examsvc.camera import analysis, faces, rules
from examsvc.camera.events import NAMESPACE
from examsvc.camera.models import (
    ClientEvent,
    ClientEventKind,
    EntryCheck,
    EntryOutcome,
    Snapshot,
    SnapshotStatus,
)
from examsvc.extensions import db, socketio
from examsvc.invigilation.models import ProctorWarning
from proctoring import frames, jobs
from proctoring.config import FaceConfig
from proctoring.pool import Priority
from tests.attempts.test_attempts import correct_response
from tests.camera.conftest import jpeg_of
from tests.factories import create_physician

BIG = FaceConfig(max_bytes=50 * 1024 * 1024)
ERROR_KEYS = {"code", "message", "details"}


@pytest.fixture(scope="module")
def photos(request) -> dict[str, bytes]:
    from tests.conftest import REPO

    root = REPO.parent / "shared" / "faces"
    if not (root / "pairs.csv").exists():
        pytest.fail(f"face photos not found at {root}: set EXAMSVC_FACES_DIR")

    def load(name: str) -> bytes:
        return jpeg_of(frames.decode((root / name).read_bytes(), BIG))

    return {
        "obama": load("face_recognition/obama.jpg"),
        "biden": load("face_recognition/biden.jpg"),
        "two": load("face_recognition/two_people.jpg"),
        "black": jpeg_of(np.zeros((480, 640, 3), dtype=np.uint8)),
    }


@pytest.fixture
def enrolled(exam, attempt_id, photos) -> bytes:
    """The entry verification's enrolled encodings (from the real engine), as another
    helper's entry check stores them."""
    encoding = jobs.run("registration_photo", {"image": photos["obama"]})["encoding"]
    assert encoding is not None
    db.session.add(
        EntryCheck(
            physician_id=exam["physician"].id,
            attempt_id=attempt_id,
            checked_at=datetime(2026, 5, 12, 0, 59, tzinfo=UTC),
            outcome=EntryOutcome.PASSED,
            distance=0.3,
            decision={},
            frames=[],
            enrolled=encoding * 2,  # two enrolled frames
        )
    )
    db.session.commit()
    return encoding


def send(channel, attempt_id: int, image: bytes) -> dict:
    ack = channel.emit(
        "snapshot",
        {"attempt_id": attempt_id, "image": image, "taken_at": "2026-05-12T01:00:00+00:00"},
        namespace=NAMESPACE,
        callback=True,
    )
    assert ack is not None, "a snapshot left without an acknowledgement"
    return ack


def snapshot(snapshot_id: int) -> Snapshot:
    db.session.expire_all()
    row = db.session.get(Snapshot, snapshot_id)
    assert row is not None
    return row


def test_a_snapshot_of_the_registered_person_is_stored_acknowledged_and_ok(
    app, channel, attempt_id, enrolled, photos, changes
):
    ack = send(channel, attempt_id, photos["obama"])
    assert ack["ok"] is True and isinstance(ack["id"], int)
    assert 30 <= ack["next_in"] <= 90  # the default mean, 60 s, jittered
    row = snapshot(ack["id"])
    assert row.status == SnapshotStatus.PENDING  # acknowledged before the analysis ran
    assert row.size == len(photos["obama"])
    assert row.taken_at == datetime(2026, 5, 12, 1, 0, tzinfo=UTC)
    # The file: under DATA_DIR, owner-only, never under the web root.
    path = Path(app.config["DATA_DIR"]) / row.path
    # Named by the time received and 64 random bits: stored with its row in one INSERT.
    assert re.fullmatch(rf"snapshots/{attempt_id}/20260512\d{{6}}-[0-9a-f]{{16}}\.jpg", row.path)
    assert path.read_bytes() == photos["obama"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.resolve().is_relative_to(Path(app.static_folder).resolve())
    assert attempt_id in changes

    analysis.join()
    row = snapshot(ack["id"])
    assert row.status == SnapshotStatus.OK, row.measurements
    assert row.flags == [] and row.distance is not None and row.distance < 0.2
    assert row.measurements["face_count"] == 1 and row.analysed_at is not None
    assert changes.count(attempt_id) >= 2  # stored, then analysed


@pytest.mark.parametrize(
    ("photo", "status", "flag"),
    [
        ("biden", SnapshotStatus.MISMATCH, "mismatch"),
        ("two", SnapshotStatus.MULTIPLE_FACES, "multiple_faces"),
        ("black", SnapshotStatus.NO_FACE, "no_face"),
    ],
)
def test_the_engine_flags_another_person_two_faces_and_an_empty_frame(
    channel, attempt_id, enrolled, photos, photo, status, flag
):
    ack = send(channel, attempt_id, photos[photo])
    assert ack["ok"] is True
    analysis.join()
    row = snapshot(ack["id"])
    assert row.status == status and flag in row.flags
    if status == SnapshotStatus.MISMATCH:
        assert row.distance is not None and row.distance > 0.45


def test_a_flagged_candidate_is_asked_more_often(channel, attempt_id, enrolled, photos):
    send(channel, attempt_id, photos["black"])
    analysis.join()
    nexts = [
        channel.emit("exam_join", {"attempt_id": attempt_id}, namespace=NAMESPACE, callback=True)[
            "next_in"
        ]
        for _ in range(20)
    ]
    assert max(nexts) <= 30  # a third of the 60-second mean, jittered


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (b"\xff\xd8\xff" + b"\0" * (rules.MAX_BYTES + 1), "snapshot_too_large"),
        (b"<html>not an image</html>", "not_an_image"),
        (b"GIF89a" + b"\0" * 100, "not_an_image"),
    ],
)
def test_an_oversized_or_unknown_image_is_refused_in_the_one_shape(
    channel, attempt_id, image, code
):
    ack = send(channel, attempt_id, image)
    assert ack["ok"] is False and ack["status"] == 422
    assert set(ack["error"]) == ERROR_KEYS and ack["error"]["code"] == code
    assert ack["error"]["details"][0]["field"] == "image"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Snapshot)) == 0


def test_a_malformed_snapshot_message_is_refused_in_the_one_shape(channel, attempt_id):
    ack = channel.emit("snapshot", {"image": b"x"}, namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False and ack["status"] == 422 and ack["error"]["code"] == "invalid"
    assert ack["error"]["details"][0]["field"] == "attempt_id"


def test_another_physician_s_attempt_is_refused(app, exam, attempt_id, photos):
    other = create_physician(exam["cycle"], password="Right-Pass1")
    other.user.must_change_password = False
    db.session.commit()
    theirs = app.test_client()
    theirs.post("/login", data={"login": other.id_number, "password": "Right-Pass1"})
    g.pop("user", None)
    channel = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=theirs)
    try:
        ack = send(channel, attempt_id, photos["black"])
        assert ack["ok"] is False and ack["status"] == 404
        assert ack["error"]["code"] == "not_found"
        event = channel.emit(
            "client_event",
            {"attempt_id": attempt_id, "kind": "hidden", "at": None},
            namespace=NAMESPACE,
            callback=True,
        )
        assert event["error"]["code"] == "not_found"
    finally:
        channel.disconnect(NAMESPACE)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Snapshot)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ClientEvent)) == 0


def test_a_submitted_attempt_takes_no_more_snapshots(candidate, channel, attempt_id, photos):
    assert candidate.post(f"/api/v1/exam/attempts/{attempt_id}/submit").status_code == 200
    ack = send(channel, attempt_id, photos["black"])
    assert ack["ok"] is False and ack["error"]["code"] == "attempt_closed"


def test_snapshots_beyond_what_the_server_asks_are_refused(channel, attempt_id, photos):
    allowed = rules.max_snapshots_in_window(60)
    acks = [send(channel, attempt_id, photos["black"]) for _ in range(allowed + 1)]
    assert all(a["ok"] for a in acks[:allowed])
    assert acks[-1]["ok"] is False and acks[-1]["status"] == 429
    assert acks[-1]["error"]["code"] == "too_many_snapshots"


def test_answers_are_saved_and_acknowledged_while_snapshots_are_analysed(
    channel, attempt_id, enrolled, photos, monkeypatch
):
    # The engine is busy with other candidates' frames until the answer is saved (the real
    # engine, held back): the second snapshot and the save must not wait for an analysis in
    # flight, and the first one cannot be decided early by a fast engine either.
    engine_free = threading.Event()
    engine = faces.run

    def busy_engine(*args, **kwargs):
        engine_free.wait(30)
        return engine(*args, **kwargs)

    monkeypatch.setattr(faces, "run", busy_engine)
    item = db.session.scalars(
        sa.select(AttemptItem).where(AttemptItem.attempt_id == attempt_id)
    ).first()
    assert item is not None
    position, response = item.position, correct_response(item)
    first = send(channel, attempt_id, photos["two"])
    second = send(channel, attempt_id, photos["obama"])
    saved = channel.emit(
        "answer",
        {
            "attempt_id": attempt_id,
            "position": position,
            "response": response,
            "seq": 1,
        },
        namespace=NAMESPACE,
        callback=True,
    )
    assert saved["ok"] is True and saved["code"] == "saved", saved
    # The answer was saved while both snapshots still waited for the engine.
    assert {snapshot(first["id"]).status, snapshot(second["id"]).status} == {SnapshotStatus.PENDING}
    assert analysis.in_flight() == 2
    engine_free.set()
    analysis.join()
    assert snapshot(first["id"]).status == SnapshotStatus.MULTIPLE_FACES
    assert snapshot(second["id"]).status == SnapshotStatus.OK


def test_no_analysis_runs_inside_a_later_event_of_the_candidate(
    channel, attempt_id, enrolled, photos, monkeypatch
):
    # A snapshot's analysis is a task of its own (the engine runs in it here: no face pool),
    # started after its event: the candidate's next events (a snapshot, a page event), their
    # wall cards pushed at once, must not run it before answering.
    engine = faces.run
    started: list[str] = []

    def watched_engine(kind, payload, **kwargs):
        started.append(kind)
        return engine(kind, payload, **kwargs)

    monkeypatch.setattr(faces, "run", watched_engine)
    first = send(channel, attempt_id, photos["two"])
    second = send(channel, attempt_id, photos["obama"])
    event = channel.emit(
        "client_event",
        {"attempt_id": attempt_id, "kind": "hidden", "at": None},
        namespace=NAMESPACE,
        callback=True,
    )
    assert first["ok"] and second["ok"] and event == {"ok": True}
    assert started == [] and analysis.in_flight() == 2  # answered, the analyses still to run
    assert {snapshot(first["id"]).status, snapshot(second["id"]).status} == {SnapshotStatus.PENDING}
    analysis.join()
    assert started == ["snapshot", "snapshot"]
    assert snapshot(first["id"]).status == SnapshotStatus.MULTIPLE_FACES
    assert snapshot(second["id"]).status == SnapshotStatus.OK


def test_snapshots_beyond_the_analyses_in_flight_are_skipped(app, channel, attempt_id, photos):
    app.config["SNAPSHOT_ANALYSES"] = 1
    first = send(channel, attempt_id, photos["black"])
    second = send(channel, attempt_id, photos["black"])
    assert snapshot(second["id"]).status == SnapshotStatus.SKIPPED
    analysis.join()
    assert snapshot(first["id"]).status == SnapshotStatus.NO_FACE


def test_snapshots_left_pending_by_a_killed_process_are_analysed_at_the_next_start(
    app, channel, attempt_id, enrolled, photos, monkeypatch
):
    # The process dies (kill -9) after the unit committed, before its analysis ran.
    with monkeypatch.context() as patched:
        patched.setattr(analysis, "dispatch", lambda app, stored: None)
        ack = send(channel, attempt_id, photos["obama"])
    assert snapshot(ack["id"]).status == SnapshotStatus.PENDING
    # The next process to start hands it on once (tests/faults/test_kill.py, for real).
    assert analysis.recover(app) == 1
    analysis.join()
    assert snapshot(ack["id"]).status == SnapshotStatus.OK
    assert analysis.recover(app) == 0


def test_the_worker_hook_records_a_decision_and_a_dropped_frame(
    app, channel, attempt_id, photos, monkeypatch
):
    monkeypatch.setattr(worker, "_app", lambda: app)
    monkeypatch.setattr(analysis, "dispatch", lambda app, stored: None)  # the hook decides
    first = send(channel, attempt_id, photos["two"])["id"]
    second = send(channel, attempt_id, photos["two"])["id"]
    result = jobs.run("snapshot", {"image": photos["two"], "enrolled": []})
    worker.record_result("job-1", {"snapshot_id": first}, result)
    worker.record_result("job-2", {"snapshot_id": second}, {"ok": False, "dropped": True})
    assert snapshot(first).status == SnapshotStatus.MULTIPLE_FACES
    assert snapshot(second).status == SnapshotStatus.SKIPPED
    # A second run of the same snapshot (a re-queue) leaves the first decision as it is.
    worker.record_result("job-3", {"snapshot_id": second}, result)
    assert snapshot(second).status == SnapshotStatus.SKIPPED


def events_of(attempt_id: int) -> list[ClientEventKind]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(ClientEvent.kind)
            .where(ClientEvent.attempt_id == attempt_id)
            .order_by(ClientEvent.id)
        )
    )


def test_page_events_are_stored_with_the_server_s_and_the_client_s_time(
    channel, attempt_id, changes, clock
):
    for kind in ("hidden", "visible", "blur", "camera_stopped", "fullscreen_exit"):
        ack = channel.emit(
            "client_event",
            {"attempt_id": attempt_id, "kind": kind, "at": "2026-05-12T00:59:58+00:00"},
            namespace=NAMESPACE,
            callback=True,
        )
        assert ack == {"ok": True}
    assert events_of(attempt_id) == [
        ClientEventKind.HIDDEN,
        ClientEventKind.VISIBLE,
        ClientEventKind.BLUR,
        ClientEventKind.CAMERA_STOPPED,
        ClientEventKind.FULLSCREEN_EXIT,
    ]
    row = db.session.scalars(sa.select(ClientEvent)).first()
    assert row is not None and row.at == clock.now()
    assert row.client_at == datetime(2026, 5, 12, 0, 59, 58, tzinfo=UTC)
    assert changes.count(attempt_id) == 5


@pytest.mark.parametrize("kind", ["disconnected", "reconnected", "left", None])
def test_a_page_cannot_report_the_server_s_own_events_or_unknown_kinds(channel, attempt_id, kind):
    ack = channel.emit(
        "client_event",
        {"attempt_id": attempt_id, "kind": kind},
        namespace=NAMESPACE,
        callback=True,
    )
    assert ack["ok"] is False and ack["status"] == 422 and ack["error"]["code"] == "invalid"
    assert events_of(attempt_id) == []


def connect(app, http_client):
    """A socket test client; the user a previous event cached in the shared ``g`` is dropped
    (a server has one ``g`` per event)."""
    g.pop("user", None)
    return socketio.test_client(app, namespace=NAMESPACE, flask_test_client=http_client)


def test_a_dropped_connection_and_the_return_are_recorded(app, candidate, attempt_id, clock):
    first = connect(app, candidate)
    joined = first.emit("exam_join", {"attempt_id": attempt_id}, namespace=NAMESPACE, callback=True)
    assert joined["ok"] is True and 30 <= joined["next_in"] <= 90
    assert events_of(attempt_id) == []  # a first join is not a return
    second = connect(app, candidate)
    second.disconnect(NAMESPACE)  # another tab closed: the candidate is still connected
    assert events_of(attempt_id) == []
    first.disconnect(NAMESPACE)
    assert events_of(attempt_id) == [ClientEventKind.DISCONNECTED]
    clock.advance(seconds=40)
    again = connect(app, candidate)
    again.emit("exam_join", {"attempt_id": attempt_id}, namespace=NAMESPACE, callback=True)
    again.emit("exam_join", {"attempt_id": attempt_id}, namespace=NAMESPACE, callback=True)
    assert events_of(attempt_id) == [ClientEventKind.DISCONNECTED, ClientEventKind.RECONNECTED]
    again.disconnect(NAMESPACE)


def test_the_candidate_acknowledges_a_warning(app, exam, channel, attempt_id, clock):
    warning = ProctorWarning(
        attempt_id=attempt_id,
        sent_by=exam["physician"].user_id,
        sent_at=clock.now(),
        message="请正对摄像头",
    )
    db.session.add(warning)
    db.session.commit()
    warning_id = warning.id
    clock.advance(seconds=5)
    ack = channel.emit("warning_seen", {"id": warning_id}, namespace=NAMESPACE, callback=True)
    assert ack == {"ok": True}
    db.session.expire_all()
    assert db.session.get(ProctorWarning, warning_id).seen_at == clock.now()
    missing = channel.emit(
        "warning_seen", {"id": warning_id + 1}, namespace=NAMESPACE, callback=True
    )
    assert missing["ok"] is False and missing["error"]["code"] == "not_found"


def test_a_flagged_candidate_s_snapshots_go_before_routine_ones(
    app, channel, attempt_id, photos, monkeypatch
):
    asked: list[tuple[str, object]] = []

    def run(kind, payload, *, candidate=None, priority=None, timeout=60):
        asked.append((candidate, priority))
        return jobs.run(kind, payload)

    monkeypatch.setattr(analysis.faces, "run", run)
    send(channel, attempt_id, photos["black"])
    analysis.join()
    send(channel, attempt_id, photos["black"])  # after a no-face snapshot: flagged
    analysis.join()
    assert asked == [(str(attempt_id), Priority.ROUTINE), (str(attempt_id), Priority.FLAGGED)]


@contextmanager
def silent_redis() -> Iterator[str]:
    """A Redis host gone silent: a TCP listener (a thread) that accepts every connection
    and never answers a byte. Its URL; the listener and what it accepted closed after."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # the accept loop's own poll, to notice the end
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        done.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        listener.close()


@pytest.mark.timeout(120)  # a hang fails the test (pytest-timeout), it does not stall the run
def test_a_redis_that_never_answers_times_out_and_the_snapshot_falls_back_to_the_pool(
    app, channel, attempt_id, photos, clock, monkeypatch
):
    """With ``EXAMSVC_REDIS_URL`` on a host that accepts and never answers, the snapshot's
    queueing gives up after ``EXAMSVC_REDIS_TIMEOUT`` (injected small here) and falls back
    as when Redis is down: this process's face pool decides it; the re-queue pass and the
    admin's queue metrics return too."""
    from examsvc.camera import faces

    app.config.update(REDIS_CONNECT_TIMEOUT=0.2, REDIS_TIMEOUT=0.2, FACE_WORKERS=1)
    faces.start(app)  # a real worker process: the local pool of the fallback
    try:
        with silent_redis() as url:
            app.config["REDIS_URL"] = url
            ack = send(channel, attempt_id, photos["black"])
            assert ack["ok"] is True  # acknowledged: the queueing gave up, it did not hang
            analysis.join()
            row = snapshot(ack["id"])
            assert row.status == SnapshotStatus.NO_FACE, row.status  # decided by the pool
            client = faces._redis(url).connection_pool.connection_kwargs
            assert (client["socket_connect_timeout"], client["socket_timeout"]) == (0.2, 0.2)
            # A snapshot left PENDING (its process died before handing it on): the
            # re-queue pass asks the silent Redis, gives up, and leaves it for the next.
            with monkeypatch.context() as patched:
                patched.setattr(analysis, "dispatch", lambda app, stored: None)
                left = send(channel, attempt_id, photos["black"])
            clock.advance(seconds=app.config["SNAPSHOT_REQUEUE_AFTER"] + 1)
            assert analysis.requeue(app) == 0
            assert snapshot(left["id"]).status == SnapshotStatus.PENDING
            assert faces.remote_metrics(url) == {"error": "TimeoutError"}
    finally:
        faces.stop()
        faces._client.cache_clear()
