"""Snapshots analysed off the event loop and outside the event's transaction.

After the ``snapshot`` event's unit has committed (the row PENDING, the file stored, the
acknowledgement on its way), the analysis is handed on:

- with ``EXAMSVC_REDIS_URL``: to the RQ face workers (``faces.enqueue``), whose ``on_result``
  hook (:func:`examsvc.face_worker.record_result`) records the decision;
- else: to a background task (a greenlet under ``examsvc serve``) that waits on the face
  pool (``faces.run``) and records the decision in a unit of its own. At most
  ``SNAPSHOT_ANALYSES`` wait per process; a snapshot beyond that, or one the pool sheds
  because a newer one of the candidate replaced it, is SKIPPED.

Answer saves never wait on any of it: the snapshot's own event returns before the analysis
starts, and the analysis holds no database connection while the engine works.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from flask import Flask

from examsvc import metrics, uow
from examsvc.camera import faces, operations
from examsvc.camera.models import SnapshotStatus
from examsvc.clock import now
from examsvc.extensions import db, socketio
from proctoring.pool import Busy, Dropped, Priority, WorkerCrashed

log = logging.getLogger(__name__)
TIMEOUT = 120  # seconds a snapshot may wait for the pool before it is recorded as an error

_lock = threading.Lock()
_tasks: dict[int, Any] = {}  # snapshot id -> its background task


def in_flight() -> int:
    return len(_tasks)


def dispatch(app: Flask, stored: operations.StoredSnapshot) -> None:
    """Hand a committed snapshot to the engine (called after the unit's commit)."""
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        _enqueue(app, redis_url, stored)
        return
    with _lock:
        full = len(_tasks) >= app.config["SNAPSHOT_ANALYSES"]
    if full:
        _record_unanalysed(app, stored.id, SnapshotStatus.SKIPPED, "busy")
        return
    with _lock:  # held until the task is listed: it removes itself when done
        _tasks[stored.id] = socketio.start_background_task(_analyse, app, stored)


def recover(app: Flask) -> int:
    """Hand the snapshots left PENDING by a process that died (kill -9, a crash) to the
    engine again, once, at start; the embedded default only (with Redis their jobs wait in
    the RQ queue for the face workers). Returns how many."""
    if app.config.get("REDIS_URL"):
        return 0
    with app.app_context():
        try:
            stored = operations.unanalysed_snapshots(Path(app.config["DATA_DIR"]))
        finally:
            db.session.remove()
    for snapshot in stored:
        dispatch(app, snapshot)
    if stored:
        log.info("%d snapshots left unanalysed by a previous process handed on", len(stored))
    return len(stored)


def join(timeout: float = 60) -> None:
    """Wait for the analyses in flight (tests, and a clean shutdown)."""
    for task in list(_tasks.values()):
        task.join(timeout)


def _analyse(app: Flask, stored: operations.StoredSnapshot) -> None:
    try:
        with app.app_context():
            started = time.perf_counter()
            try:
                image = stored.path.read_bytes()
                result = faces.run(
                    "snapshot",
                    {"image": image, "enrolled": stored.enrolled},
                    candidate=str(stored.attempt_id),
                    priority=_priority(stored),
                    timeout=TIMEOUT,
                )
            except (Dropped, Busy) as exc:
                _record_unanalysed(app, stored.id, SnapshotStatus.SKIPPED, type(exc).__name__)
                return
            except (WorkerCrashed, FutureTimeout, OSError) as exc:
                log.warning("snapshot %s not analysed: %r", stored.id, exc)
                _record_unanalysed(app, stored.id, SnapshotStatus.ERROR, type(exc).__name__)
                return
            metrics.SNAPSHOT_ANALYSIS_SECONDS.observe(time.perf_counter() - started)
            _record(stored.id, result)
    except Exception:
        log.exception("snapshot %s: analysis failed", stored.id)
    finally:
        with _lock:
            _tasks.pop(stored.id, None)


def _priority(stored: operations.StoredSnapshot) -> Priority:
    """A flagged candidate's snapshot goes before routine ones (entry checks go first)."""
    return Priority.FLAGGED if stored.flagged else Priority.ROUTINE


def _record(snapshot_id: int, result: dict[str, Any]) -> None:
    try:
        uow.run(lambda: operations.record_analysis(snapshot_id, result, now=now()))
    finally:
        db.session.remove()


def _record_unanalysed(app: Flask, snapshot_id: int, status: SnapshotStatus, reason: str) -> None:
    with app.app_context():
        try:
            uow.run(lambda: operations.record_unanalysed(snapshot_id, status, reason, now=now()))
        finally:
            db.session.remove()


def _enqueue(app: Flask, redis_url: str, stored: operations.StoredSnapshot) -> None:
    try:
        faces.enqueue(
            redis_url,
            "snapshot",
            {"image": stored.path.read_bytes(), "enrolled": stored.enrolled},
            room=f"attempt:{stored.attempt_id}",
            candidate=str(stored.attempt_id),
            priority=_priority(stored),
            on_result="examsvc.face_worker:record_result",
            queue_prefix=app.config["FACE_QUEUE_PREFIX"] or "",
            meta={"snapshot_id": stored.id},
        )
    except Busy:
        _record_unanalysed(app, stored.id, SnapshotStatus.SKIPPED, "Busy")
    except Exception as exc:  # Redis down: the snapshot stays stored, marked as not analysed
        log.warning("snapshot %s not queued: %r", stored.id, exc)
        _record_unanalysed(app, stored.id, SnapshotStatus.ERROR, type(exc).__name__)
