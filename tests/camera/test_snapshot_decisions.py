"""A snapshot's row and its decision, as statements: stored with one INSERT, decided with
one UPDATE that only a PENDING snapshot takes, so that a decision is recorded once — a
second recorder (a re-queued job, a late first one), one after the other or at the same
time, changes nothing. On SQLite and PostgreSQL (``EXAMSVC_TEST_DATABASE_URL``)."""

from __future__ import annotations

import stat
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from examsvc import uow
from examsvc.camera import analysis, operations
from examsvc.camera.events import NAMESPACE
from examsvc.camera.models import Snapshot, SnapshotStatus
from examsvc.extensions import db
from examsvc.invigilation import live
from tests.camera.conftest import jpeg_of
from tests.statements import recorded_statements

ANALYSED = {
    "ok": False,
    "flags": ["multiple_faces"],
    "distance": None,
    "face_count": 2,
    "box": [1, 2, 3, 4],
    "issues": [{"code": "dark"}],
    "measurements": {"brightness": 31.0},
}
OK = {"ok": True, "flags": [], "distance": 0.2, "face_count": 1, "issues": []}


@pytest.fixture
def image() -> bytes:
    import numpy as np

    return jpeg_of(np.full((120, 160, 3), 128, dtype=np.uint8))


@pytest.fixture
def stored(monkeypatch) -> list[operations.StoredSnapshot]:
    """The snapshots the event stored, not handed to the face pool (the tests decide)."""
    handed: list[operations.StoredSnapshot] = []
    monkeypatch.setattr(analysis, "dispatch", lambda app, snapshot: handed.append(snapshot))
    return handed


def send(channel: Any, attempt_id: int, image: bytes) -> dict[str, Any]:
    ack = channel.emit(
        "snapshot", {"attempt_id": attempt_id, "image": image}, namespace=NAMESPACE, callback=True
    )
    assert ack["ok"] is True, ack
    return ack


def row(snapshot_id: int) -> dict[str, Any]:
    db.session.expire_all()
    found = db.session.get(Snapshot, snapshot_id)
    assert found is not None
    return {
        c: getattr(found, c)
        for c in ("status", "flags", "distance", "measurements", "analysed_at", "path")
    }


def counted(decision: str) -> float:
    return (
        REGISTRY.get_sample_value("examsvc_snapshots_analysed_total", {"decision": decision}) or 0.0
    )


def test_a_snapshot_is_stored_in_one_insert_and_decided_in_one_update(
    app, channel, attempt_id, image, stored, clock, monkeypatch
):
    # As in a serving process, the card waits to be pushed with the others (not counted).
    monkeypatch.setitem(
        app.extensions, "examsvc.due_cards", live.DueCards(app, 1.0, lambda later: None)
    )
    with recorded_statements() as seen:
        ack = send(channel, attempt_id, image)
    # The ownership (the session's user checked in it), the checks, the row: no ORM load of
    # the user, the physician's ids or the attempt, no second write for the file's path.
    assert len(seen) == 3, seen
    assert "JOIN users" in seen[0] and "FROM snapshots" in seen[1]
    assert seen[2].startswith("INSERT INTO snapshots") and "RETURNING" in seen[2]
    assert [s.id for s in stored] == [ack["id"]]
    assert stored[0].path.read_bytes() == image
    assert stat.S_IMODE(stored[0].path.stat().st_mode) == 0o600

    with recorded_statements() as seen:
        decided = uow.run(lambda: operations.record_analysis(ack["id"], OK, now=clock.now()))
    assert decided == SnapshotStatus.OK
    assert len(seen) == 1 and seen[0].startswith("UPDATE snapshots") and "RETURNING" in seen[0]


def test_a_second_decision_on_a_snapshot_changes_nothing(
    channel, attempt_id, image, stored, clock, changes
):
    snapshot_id = send(channel, attempt_id, image)["id"]
    before = counted("multiple_faces"), counted("ok"), counted("error"), counted("skipped")
    changes.clear()
    first = clock.now() + timedelta(seconds=3)
    assert uow.run(lambda: operations.record_analysis(snapshot_id, ANALYSED, now=first)) == (
        SnapshotStatus.MULTIPLE_FACES
    )
    decided = row(snapshot_id)
    assert decided["status"] == SnapshotStatus.MULTIPLE_FACES
    assert decided["flags"] == ["multiple_faces"] and decided["analysed_at"] == first
    assert decided["measurements"] == {
        "face_count": 2,
        "box": [1, 2, 3, 4],
        "issues": ["dark"],
        "brightness": 31.0,
    }
    assert changes == [attempt_id]

    later = first + timedelta(seconds=60)  # a re-queued job, the pool's error, a shed frame
    assert uow.run(lambda: operations.record_analysis(snapshot_id, OK, now=later)) is None
    assert (
        uow.run(lambda: operations.record_analysis(snapshot_id, {"error": "x"}, now=later)) is None
    )
    for status in (SnapshotStatus.SKIPPED, SnapshotStatus.ERROR):
        assert (
            uow.run(
                lambda s=status: operations.record_unanalysed(snapshot_id, s, "Busy", now=later)
            )
            is None
        )
    assert row(snapshot_id) == decided
    assert changes == [attempt_id]  # the wall told once
    after = counted("multiple_faces"), counted("ok"), counted("error"), counted("skipped")
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 0, 0, 0]


def test_no_such_snapshot_is_no_decision(app, clock, changes):
    assert uow.run(lambda: operations.record_analysis(10**6, OK, now=clock.now())) is None
    assert changes == []


def test_two_recorders_at_once_record_one_decision(
    app, channel, attempt_id, image, stored, clock, changes
):
    """The first recorder's UPDATE is made and not yet committed when the second one's is
    sent (PostgreSQL: seen waiting on the row's lock); the second then finds the snapshot
    decided."""
    snapshot_id = send(channel, attempt_id, image)["id"]
    changes.clear()
    updated, release, second_sent = threading.Event(), threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def first_unit() -> Any:
        decided = operations.record_analysis(snapshot_id, ANALYSED, now=clock.now())
        updated.set()
        assert release.wait(30)
        return decided

    def second_unit() -> Any:
        return operations.record_unanalysed(
            snapshot_id, SnapshotStatus.ERROR, "WorkerCrashed", now=clock.now()
        )

    def run(name: str, unit: Any) -> None:
        with app.app_context():
            try:
                if name == "second":
                    sa.event.listen(
                        db.session.connection(),
                        "before_cursor_execute",
                        lambda *a: second_sent.set(),
                    )
                results[name] = uow.run(unit)
            except BaseException as exc:  # reported by the test's thread
                results[name] = exc
            finally:
                db.session.remove()

    first = threading.Thread(target=run, args=("first", first_unit))
    first.start()
    assert updated.wait(30)
    second = threading.Thread(target=run, args=("second", second_unit))
    second.start()
    assert second_sent.wait(30)
    if db.engine.dialect.name == "postgresql":
        assert _a_backend_waits_on_a_lock(), "the second UPDATE should wait for the first"
    release.set()
    first.join(30)
    second.join(30)
    assert results == {"first": SnapshotStatus.MULTIPLE_FACES, "second": None}
    assert row(snapshot_id)["status"] == SnapshotStatus.MULTIPLE_FACES
    assert row(snapshot_id)["measurements"]["face_count"] == 2
    assert changes == [attempt_id]


def _a_backend_waits_on_a_lock() -> bool:
    """Poll (no fixed sleep) until another backend of this database waits on a lock."""
    engine = db.engine
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    for _ in range(3000):
        with engine.connect() as conn:
            if conn.scalar(query):
                return True
    return False
