"""The worker pool: real processes, a crash, a poisoned frame, and deliberate shedding."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from proctoring.pool import Busy, Dropped, FacePool, Priority, Scheduler, WorkerCrashed, _Job
from tests.proctoring.conftest import jpeg, landscape


@pytest.fixture(scope="module")
def pool():
    face_pool = FacePool(workers=2).start()
    yield face_pool
    face_pool.stop()


def test_jobs_run_in_worker_processes(pool, photo_bytes):
    result = pool.run("count", {"image": photo_bytes("face_recognition/two_people.jpg")})
    assert result["ok"] and result["count"] == 2
    photo = pool.run("registration_photo", {"image": photo_bytes("face_recognition/obama.jpg")})
    assert photo["ok"] and len(photo["encoding"]) == 1024


def test_a_poisoned_frame_fails_alone(pool, photo_bytes):
    bad = pool.run("snapshot", {"image": b"\xff\xd8\xff garbage"})
    assert bad == {
        "ok": False,
        "error": "truncated",
        "message_zh": "图片已损坏或不完整",
        "message_en": "The image is damaged or truncated",
    }
    assert pool.run("count", {"image": jpeg(landscape())})["count"] == 0


def test_the_pool_survives_a_worker_crash(pool, photo_bytes):
    restarts = pool.metrics()["restarts"]
    with pytest.raises(WorkerCrashed):
        pool.run("crash", {})
    assert pool.metrics()["restarts"] > restarts
    assert pool.run("count", {"image": photo_bytes("face_recognition/obama.jpg")})["count"] == 1


def test_metrics_report_depth_and_latency(pool, photo_bytes):
    pool.run("count", {"image": photo_bytes("face_recognition/obama.jpg")})
    metrics = pool.metrics()
    assert metrics["queue_depth"] == 0 and metrics["completed"] >= 1
    assert metrics["latency_ms_p50"] is not None


def _job(kind: str, candidate: str | None, priority: Priority, order: int) -> _Job:
    return _Job(int(priority), order, kind, {}, candidate, Future(), 0.0)


def test_scheduler_keeps_only_the_newest_snapshot_per_candidate():
    scheduler = Scheduler(max_queue=10)
    old = _job("snapshot", "a", Priority.ROUTINE, 1)
    scheduler.push(old)
    new = _job("snapshot", "a", Priority.ROUTINE, 2)
    assert scheduler.push(new) is old and old.cancelled
    other = _job("snapshot", "b", Priority.ROUTINE, 3)
    scheduler.push(other)
    assert len(scheduler) == 2
    assert [scheduler.pop(), scheduler.pop(), scheduler.pop()] == [new, other, None]


def test_scheduler_serves_entry_checks_and_flagged_candidates_first():
    scheduler = Scheduler(max_queue=10)
    routine = _job("snapshot", "a", Priority.ROUTINE, 1)
    flagged = _job("snapshot", "b", Priority.FLAGGED, 2)
    entry = _job("entry", "c", Priority.ENTRY, 3)
    for job in (routine, flagged, entry):
        scheduler.push(job)
    assert [scheduler.pop(), scheduler.pop(), scheduler.pop()] == [entry, flagged, routine]


def test_a_full_queue_refuses_at_once_and_loses_nothing_queued():
    scheduler = Scheduler(max_queue=2)
    first, second = _job("entry", "a", Priority.ENTRY, 1), _job("entry", "b", Priority.ENTRY, 2)
    scheduler.push(first)
    scheduler.push(second)
    with pytest.raises(Busy):
        scheduler.push(_job("entry", "c", Priority.ENTRY, 3))
    assert len(scheduler) == 2 and scheduler.pop() is first


def test_pool_reports_dropped_snapshots_to_their_callers():
    pool = FacePool(workers=1, max_queue=5)
    pool._executor = object()  # type: ignore[assignment]  # admitted, never dispatched
    pool._in_flight = 99  # the workers are "busy": jobs stay queued
    first = pool.submit("snapshot", {}, candidate="x")
    second = pool.submit("snapshot", {}, candidate="x")
    with pytest.raises(Dropped):
        first.result(timeout=1)
    assert not second.done() and pool.metrics()["dropped"] == 1
