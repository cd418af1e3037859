"""The worker pool: real processes, a crash, a poisoned frame, and deliberate shedding."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from proctoring.pool import (
    JOBS_PIPE_BYTES,
    Busy,
    Dropped,
    FacePool,
    Priority,
    Scheduler,
    WorkerCrashed,
    _Job,
)
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


def test_the_jobs_pipe_holds_the_jobs_in_flight_without_blocking_the_owner(pool):
    """Its writer runs on the owner's event loop under gevent: a full pipe stops it."""
    writer = pool._executor._call_queue._writer
    assert fcntl.fcntl(writer.fileno(), fcntl.F_GETPIPE_SZ) >= JOBS_PIPE_BYTES


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
    """Entry verifications (排队 admits at their pace), then flagged candidates, then the
    device checks of pages still open, then routine snapshots."""
    scheduler = Scheduler(max_queue=10)
    routine = _job("snapshot", "a", Priority.ROUTINE, 1)
    device = _job("camera", "d", Priority.CHECK, 2)
    flagged = _job("snapshot", "b", Priority.FLAGGED, 3)
    entry = _job("entry", "c", Priority.ENTRY, 4)
    for job in (routine, device, flagged, entry):
        scheduler.push(job)
    assert [scheduler.pop() for _ in range(4)] == [entry, flagged, device, routine]


def test_a_full_queue_refuses_at_once_and_loses_nothing_queued():
    scheduler = Scheduler(max_queue=2)
    first, second = _job("entry", "a", Priority.ENTRY, 1), _job("entry", "b", Priority.ENTRY, 2)
    scheduler.push(first)
    scheduler.push(second)
    with pytest.raises(Busy):
        scheduler.push(_job("entry", "c", Priority.ENTRY, 3))
    assert len(scheduler) == 2 and scheduler.pop() is first


def test_device_checks_wait_only_up_to_their_limit_and_take_no_other_job_s_place():
    scheduler = Scheduler(max_queue=10, limits={Priority.CHECK: 2})
    checks = [_job("camera", str(n), Priority.CHECK, n) for n in range(2)]
    for job in checks:
        scheduler.push(job)
    with pytest.raises(Busy):
        scheduler.push(_job("camera", "2", Priority.CHECK, 2))
    entry, routine = (
        _job("entry", "e", Priority.ENTRY, 3),
        _job("snapshot", "s", Priority.ROUTINE, 4),
    )
    scheduler.push(entry)
    scheduler.push(routine)
    assert len(scheduler) == 4 and scheduler.waiting(Priority.CHECK) == 2
    assert scheduler.pop() is entry
    assert scheduler.pop() is checks[0]  # a place for the next check
    scheduler.push(_job("camera", "3", Priority.CHECK, 5))


def test_a_job_its_caller_gave_up_on_leaves_the_queue_and_its_place():
    scheduler = Scheduler(max_queue=10, limits={Priority.CHECK: 1})
    check = _job("camera", "a", Priority.CHECK, 1)
    scheduler.push(check)
    scheduler.discard(check)
    assert len(scheduler) == 0 and scheduler.waiting(Priority.CHECK) == 0
    after = _job("camera", "b", Priority.CHECK, 2)
    scheduler.push(after)
    assert [scheduler.pop(), scheduler.pop()] == [after, None]
    scheduler.discard(after)  # already out: nothing changes
    assert len(scheduler) == 0


def test_pool_reports_dropped_snapshots_to_their_callers():
    pool = FacePool(workers=1, max_queue=5)
    pool._executor = object()  # type: ignore[assignment]  # admitted, never dispatched
    pool._in_flight = 99  # the workers are "busy": jobs stay queued
    first = pool.submit("snapshot", {}, candidate="x")
    second = pool.submit("snapshot", {}, candidate="x")
    with pytest.raises(Dropped):
        first.result(timeout=1)
    assert not second.done() and pool.metrics()["dropped"] == 1


OWNER = """
from gevent import monkey

monkey.patch_all()  # as examsvc serve: without gevent the workers happen to end anyway
import sys
from proctoring.pool import FacePool

FacePool(workers=2).start()
print("started", flush=True)
sys.stdin.read()  # until the test kills this process
"""


def _stat(pid: int | str) -> list[str] | None:
    """A process's state and parent from /proc, or None once it is gone (or a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields


def _descendants(root: int) -> set[int]:
    parents = {
        int(entry.name): int(stat[1])
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and (stat := _stat(entry.name)) is not None
    }
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_pool_processes_end_when_their_owner_is_killed():
    """SIGKILL gives the owner no chance to stop its pool: the workers, the forkserver and
    the resource tracker must still go, or every crash of the service leaks them."""
    with subprocess.Popen(
        [sys.executable, "-c", OWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as owner:
        assert owner.stdout is not None and owner.stdout.readline() == b"started\n"
        started = _descendants(owner.pid)
        assert len(started) >= 3  # the forkserver and two workers (and a resource tracker)
        owner.kill()
        owner.wait(timeout=30)
    deadline = time.monotonic() + 60
    while (left := {pid for pid in started if _stat(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling other processes' state, bounded by the deadline
    assert not left, f"pool processes outlived their owner: {sorted(left)}"


def test_pool_workers_yield_the_cpu_to_their_owner(photo_bytes):
    """``nice``: the workers run at a lower CPU priority than the process that owns them,
    which keeps its own, and still do their jobs."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    before = _descendants(os.getpid())
    face_pool = FacePool(workers=2, nice=7).start()
    try:
        started = _descendants(os.getpid()) - before
        lowered = {pid for pid in started if os.getpriority(os.PRIO_PROCESS, pid) == base + 7}
        assert len(lowered) == 2  # both workers; nothing else started lowered
        assert os.getpriority(os.PRIO_PROCESS, 0) == base
        result = face_pool.run("count", {"image": photo_bytes("face_recognition/two_people.jpg")})
        assert result["ok"] and result["count"] == 2
    finally:
        face_pool.stop()
