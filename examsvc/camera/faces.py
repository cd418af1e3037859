"""The face engine as the web service uses it: a worker pool started with ``serve``.

Face work never runs in the gevent loop: under ``examsvc serve`` jobs go to the
process pool and the greenlet waits on the future. Elsewhere (commands, tests) there
is no event loop to protect and jobs run in the calling process.

At scale the same jobs go to RQ workers on other machines (``enqueue``); a worker sends
the decision back to the candidate's Socket.IO room itself, through the Redis message
queue the web processes share (``emit_result``), so no web process waits on it.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_socketio import SocketIO
from redis import Redis, RedisError

from examsvc.camera import calibration
from examsvc.config import SETTINGS, read_setting
from examsvc.extensions import message_queue
from examsvc.uow import end_reads
from proctoring import distributed, jobs
from proctoring.config import FaceConfig
from proctoring.pool import FacePool, Priority

_pool: FacePool | None = None
DEFAULTS = {s.name: s.default for s in SETTINGS}  # outside an app (a script, a test)


def config_from_env() -> FaceConfig:
    """The config face jobs run with: ``EXAMSVC_FACE_ENTRY_ACCEPT`` and friends override
    the defaults, and the latest roster calibration's thresholds override both
    (``examsvc.camera.calibration.effective_config``)."""
    return calibration.effective_config()


def start(app: Flask) -> FacePool:
    global _pool
    if _pool is None:
        # Each job carries the thresholds in force when it was submitted (``run``).
        _pool = FacePool(
            app.config["FACE_WORKERS"],
            config=calibration.base_config(),
            max_checks=app.config["DEVICE_CHECKS"],
            nice=app.config["FACE_NICE"],
        ).start()
    return _pool


def stop() -> None:
    global _pool
    if _pool is not None:
        _pool.stop()
        _pool = None


def run(
    kind: str,
    payload: dict[str, Any],
    *,
    candidate: str | None = None,
    priority: Priority = Priority.ROUTINE,
    timeout: float = 60,
) -> dict[str, Any]:
    """Run a face job: on the pool when the service runs one, else here.

    Under load a face job waits seconds for a worker, so the caller's database transaction
    ends first (only reads may precede it): a request waiting for faces must not hold one
    of the few pooled connections that answer saves and logins need. Objects loaded
    before reload on their next use. Raises ``proctoring.pool.Busy`` at once when the pool
    will not take the job (its queue, or its device checks, full), ``TimeoutError`` after
    ``timeout`` seconds, the job taken out of the queue if it has not started (the callers
    answer both as busy: try again)."""
    if _pool is not None:
        config = config_from_env()  # read before the transaction ends
        end_reads()
        future = _pool.submit(kind, payload, candidate=candidate, priority=priority, config=config)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()  # still queued: it leaves the queue, never runs
            raise
    return jobs.run(kind, payload, config_from_env())


def metrics() -> dict[str, Any] | None:
    return _pool.metrics() if _pool is not None else None


# --- remote workers (RQ on Redis) --------------------------------------------------------

PRIVATE = ("encoding", "enrolled")  # face encodings stay with the job's result, never emitted


def enqueue(
    redis_url: str,
    kind: str,
    payload: dict[str, Any],
    *,
    room: str,
    event: str = "face_result",
    namespace: str = "/exam",
    priority: Priority = Priority.ROUTINE,
    candidate: str | None = None,
    queue_prefix: str = "",
    on_result: str = "examsvc.camera.faces:emit_result",
    meta: dict[str, Any] | None = None,
) -> str:
    """Queue a face job for the RQ workers; its decision reaches ``room`` as ``event``
    (or, with another ``on_result`` hook, whatever that hook does with it and ``meta``)."""
    job = distributed.enqueue(
        _redis(redis_url),
        kind,
        payload,
        config=config_from_env(),
        priority=priority,
        candidate=candidate,
        on_result=on_result,
        meta={**(meta or {}), "room": room, "event": event, "namespace": namespace},
        namespace=queue_prefix,
    )
    return str(job.id)


def claim(redis_url: str, key: str, seconds: int) -> bool:
    """Take ``key`` for ``seconds`` if nobody holds it (a snapshot queued once)."""
    return bool(_redis(redis_url).set(key, b"1", nx=True, ex=seconds))


def claimed(redis_url: str, key: str) -> bool:
    return bool(_redis(redis_url).exists(key))


def remote_metrics(redis_url: str) -> dict[str, Any]:
    """Depth and latency of the RQ queues (an error name when Redis cannot be reached)."""
    try:
        return distributed.metrics(_redis(redis_url))
    except RedisError as exc:
        return {"error": type(exc).__name__}


def _redis(redis_url: str) -> Redis:
    """The face queue's client, with ``EXAMSVC_REDIS_CONNECT_TIMEOUT`` and
    ``EXAMSVC_REDIS_TIMEOUT``: a Redis that does not answer fails the call (a ``RedisError``,
    which the callers answer by falling back) instead of holding its greenlet."""
    config = current_app.config if has_app_context() else DEFAULTS
    return _client(
        redis_url, float(config["REDIS_CONNECT_TIMEOUT"]), float(config["REDIS_TIMEOUT"])
    )


@cache
def _client(redis_url: str, connect_timeout: float, timeout: float) -> Redis:
    return distributed.connect(redis_url, connect_timeout=connect_timeout, timeout=timeout)


@cache
def _emitter(redis_url: str, connect_timeout: float, timeout: float) -> SocketIO:
    """A write-only Socket.IO server on the web tier's Redis message queue, whose emit gives
    up on a Redis that does not answer (``extensions.message_queue``)."""
    queue = message_queue(
        redis_url, write_only=True, connect_timeout=connect_timeout, timeout=timeout
    )
    return SocketIO(message_queue=redis_url, client_manager=queue)


def emit_result(job_id: str | None, meta: dict[str, Any], result: dict[str, Any]) -> None:
    """``on_result`` hook, run in the RQ worker (which has the web tier's
    ``EXAMSVC_REDIS_URL``, and its ``EXAMSVC_REDIS_CONNECT_TIMEOUT`` and
    ``EXAMSVC_REDIS_TIMEOUT`` if set): the decision, without encodings, to the job's room."""
    public = {key: value for key, value in result.items() if key not in PRIVATE}
    emitter = _emitter(
        os.environ["EXAMSVC_REDIS_URL"],
        float(read_setting(os.environ, "REDIS_CONNECT_TIMEOUT")),
        float(read_setting(os.environ, "REDIS_TIMEOUT")),
    )
    emitter.emit(
        meta["event"], {"job_id": job_id, **public}, to=meta["room"], namespace=meta["namespace"]
    )
