"""The device check (设备调试, ``camera_check``) under load, on the real face pool: the
engine's work runs in the pool's processes, never in the event loop; at most
``EXAMSVC_DEVICE_CHECKS`` checks wait for the pool in a process, and a storm beyond them is
answered 503 ``busy`` with ``retry_after`` at once (nothing queued for them, the places of
the verifications untouched); a check that waits longer than ``CHECK_WAIT_SECONDS`` is
answered busy too and leaves the queue, never run for nobody."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from examsvc.camera import events, faces
from proctoring.pool import FacePool, Priority
from tests.camera.conftest import emit, socket_of
from tests.camera.test_gate import shots
from tests.faults.conftest import poll

BUSY = {
    "ok": False,
    "status": 503,
    "error": {
        "code": "busy",
        "message": "服务器繁忙，请稍后再试",
        "details": [],
        "retry_after": 2,
    },
}
GOOD = {"ok": True, "good": True, "code": None, "message": ""}


@pytest.fixture
def pool(app) -> Iterator[FacePool]:
    """The service's face pool as ``examsvc serve`` starts it: one worker, one device check
    may wait."""
    app.config.update(FACE_WORKERS=1, DEVICE_CHECKS=1)
    started = faces.start(app)
    yield started
    faces.stop()


@pytest.fixture
def frame(faces_dir: Path) -> bytes:
    return shots(faces_dir, "obama-480p.jpg")[0]


def hold(pool: FacePool, release: Path) -> list[Future[dict[str, Any]]]:
    """Jobs that keep every worker busy (and fill what the pool keeps in flight) until
    ``release`` exists: whatever comes next waits in the pool's queue."""
    holding = [pool.submit("hold", {"until": str(release)}) for _ in range(2 * pool.workers)]
    assert pool.metrics()["in_flight"] == 2 * pool.workers
    return holding


def shed() -> float:
    labels = {"channel": "socket", "cause": "face_pool"}
    return REGISTRY.get_sample_value("examsvc_shed_total", labels) or 0.0


def test_a_storm_of_device_checks_is_answered_busy_at_once_and_leaves_the_queue_alone(
    app, gate, phone, pool, frame, tmp_path
):
    socket = socket_of(app, phone)
    release = tmp_path / "release"
    holding = hold(pool, release)
    try:
        # Another page's check waits for the pool: the process's one place for checks.
        waiting = pool.submit(
            "camera", {"image": frame}, candidate="another", priority=Priority.CHECK
        )
        before, refused = shed(), pool.metrics()["rejected"]
        storm = [emit(socket, "camera_check", {"image": frame}) for _ in range(5)]
        assert storm == [BUSY] * 5  # at once: the test client runs each handler to its end
        assert pool.metrics()["rejected"] == refused + 5
        assert shed() == before + 5
        assert pool.metrics()["checks_waiting"] == 1 and pool.metrics()["queue_depth"] == 1
        # The verifications' places are untouched: an entry job still queues.
        entry = pool.submit("count", {"image": frame}, priority=Priority.ENTRY)
        assert not entry.done()
    finally:
        release.touch()
    assert all(job.result(timeout=60)["ok"] for job in holding)
    assert entry.result(timeout=60)["count"] == 1
    assert waiting.result(timeout=60)["good"] is True
    # The storm over, the page's next check (after retry_after) is answered.
    assert emit(socket, "camera_check", {"image": frame}) == GOOD


def test_a_device_check_that_waits_too_long_is_busy_and_never_runs(
    app, gate, phone, pool, frame, tmp_path, monkeypatch
):
    wait = events.CHECK_WAIT_SECONDS
    monkeypatch.setattr(events, "CHECK_WAIT_SECONDS", 0.2)
    socket = socket_of(app, phone)
    release = tmp_path / "release"
    holding = hold(pool, release)
    completed = pool.metrics()["completed"]
    try:
        assert emit(socket, "camera_check", {"image": frame}) == BUSY
        # Out of the queue at once: its place is free for the next page's check.
        assert pool.metrics()["checks_waiting"] == 0 and pool.metrics()["queue_depth"] == 0
    finally:
        release.touch()
    assert all(job.result(timeout=60)["ok"] for job in holding)
    poll(lambda: pool.metrics()["in_flight"] == 0, timeout=10, what="the pool idle")
    assert pool.metrics()["completed"] == completed + len(holding)  # the check never ran
    # The page's next check, with the usual wait (0.2 s failed a loaded machine's check)
    monkeypatch.setattr(events, "CHECK_WAIT_SECONDS", wait)
    assert emit(socket, "camera_check", {"image": frame}) == GOOD
