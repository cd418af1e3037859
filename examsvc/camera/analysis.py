"""Snapshots analysed off the event loop and outside the event's transaction.

After the ``snapshot`` event's unit has committed (the row PENDING, the file stored, the
acknowledgement on its way), the analysis is handed on:

- with ``EXAMSVC_REDIS_URL``: to the RQ face workers (``faces.enqueue``), whose ``on_result``
  hook (:func:`examsvc.face_worker.record_result`) records the decision. When Redis cannot
  be reached, the process's own face pool analyses it as below (single-process delivery);
  a process without a pool leaves it PENDING and the periodic :func:`requeue` queues it
  once Redis is back (a claim in Redis per snapshot: queued once, never twice);
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
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from redis import RedisError

from examsvc import metrics, uow
from examsvc.camera import faces, operations
from examsvc.camera.models import SnapshotStatus
from examsvc.clock import now
from examsvc.extensions import db, socketio
from proctoring.pool import Busy, Dropped, Priority, WorkerCrashed

log = logging.getLogger(__name__)
TIMEOUT = 120  # seconds a snapshot may wait for the pool before it is recorded as an error
CLAIM_SECONDS = 900  # a queued snapshot's claim: the job's wait (120 s) and its result (600 s)
REQUEUE_BATCH = 500  # snapshots queued again per pass, oldest first

_lock = threading.Lock()
_tasks: dict[int, Any] = {}  # snapshot id -> its background task


def in_flight() -> int:
    return len(_tasks)


def dispatch(app: Flask, stored: operations.StoredSnapshot) -> None:
    """Hand a committed snapshot to the engine (called after the unit's commit)."""
    redis_url = app.config.get("REDIS_URL")
    if redis_url and _enqueue(app, redis_url, stored) != DOWN:
        return
    if redis_url and faces.metrics() is None:
        return  # no pool here: PENDING, the periodic re-queue hands it on when Redis is back
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


def _claim_key(app: Flask, snapshot_id: int) -> str:
    return f"{app.config['FACE_QUEUE_PREFIX'] or ''}snapshots:queued:{snapshot_id}"


QUEUED, TAKEN, RECORDED, DOWN = "queued", "taken", "recorded", "down"  # what _enqueue did


def _enqueue(app: Flask, redis_url: str, stored: operations.StoredSnapshot) -> str:
    """Queue the snapshot for the RQ face workers under its claim (set once): ``QUEUED``;
    ``TAKEN`` when it was claimed already (someone else's to queue: its own hand-off, or
    another process's re-queue); ``RECORDED`` as skipped or error when it could not be;
    ``DOWN`` when Redis cannot be reached (or does not answer)."""
    try:
        if not faces.claim(redis_url, _claim_key(app, stored.id), CLAIM_SECONDS):
            return TAKEN
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
        return RECORDED
    except (RedisError, OSError) as exc:  # Redis down: this process's pool, or later
        log.warning("snapshot %s not queued: %r", stored.id, exc)
        return DOWN
    except Exception as exc:  # anything else: the snapshot stays stored, marked as not analysed
        log.exception("snapshot %s not queued", stored.id)
        _record_unanalysed(app, stored.id, SnapshotStatus.ERROR, type(exc).__name__)
        return RECORDED
    return QUEUED


def requeue_interval(app: Flask) -> float:
    return float(app.config["SNAPSHOT_REQUEUE_SECONDS"]) if app.config.get("REDIS_URL") else 0.0


def requeue(app: Flask) -> int:
    """The periodic job (with Redis): queue again the snapshots PENDING for longer than
    ``SNAPSHOT_REQUEUE_AFTER`` whose claim is gone — Redis was down when they came and no
    pool here took them, or Redis restarted and lost its queue. Several processes may run
    it at once: each snapshot's claim lets one of them queue it. Returns how many it
    queued itself (one another process, or its own hand-off, claimed between the look and
    the claim is not counted, nor logged)."""
    redis_url = app.config["REDIS_URL"]
    if not redis_url:
        return 0
    before = now() - timedelta(seconds=app.config["SNAPSHOT_REQUEUE_AFTER"])
    stored = operations.unanalysed_snapshots(
        Path(app.config["DATA_DIR"]), received_before=before, limit=REQUEUE_BATCH
    )
    uow.end_reads()  # no transaction held while Redis answers
    queued = 0
    for snapshot in stored:
        try:
            if faces.claimed(redis_url, _claim_key(app, snapshot.id)):
                continue
        except (RedisError, OSError) as exc:  # down, or not answering (its timeout)
            log.warning("pending snapshots not queued again: %r", exc)
            break  # the next pass
        done = _enqueue(app, redis_url, snapshot)
        if done == DOWN:
            break  # Redis is still down: the next pass
        if done == QUEUED:  # not one claimed meanwhile by its own hand-off or another pass
            queued += 1
    if queued:
        log.info("%d pending snapshots queued again for the face workers", queued)
    return queued
