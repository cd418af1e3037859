"""The same face jobs through a distributed queue on Redis (RQ), for workers elsewhere.

The web tier enqueues; ``python -m proctoring.worker --redis URL`` runs jobs with the
models loaded once (a SimpleWorker: no fork per job). A result can be fetched by job
id, and an optional ``on_result`` hook (a dotted path ``module:function``) is called in
the worker with ``(job_id, meta, result)`` — the web tier uses it to emit the decision
through Socket.IO's Redis message queue.

Load is shed as in the local pool: one queue per priority (entry checks, then flagged
candidates, then routine snapshots), which workers serve in that order; a
queue at its limit refuses at once (``Busy``); a snapshot is skipped by the worker when a
newer one of the same candidate has been queued since (``{"dropped": True}``, which the
``on_result`` hook hears as well), and a job
not started within its ``ttl`` expires. ``metrics`` reports depth and latency.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, cast

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue, get_current_job
from rq.job import Job

from proctoring import jobs
from proctoring.config import FaceConfig
from proctoring.pool import Busy, Priority, percentile

MAX_QUEUE = 5_000  # jobs waiting in one queue before new ones are refused
LATENCIES = 500  # recent queue-to-result times kept for the percentiles

# One queue per priority; a worker takes from the first non-empty one, in this order.
QUEUES = {
    Priority.ENTRY: "faces-entry",
    Priority.FLAGGED: "faces-flagged",
    Priority.ROUTINE: "faces",
}


def queue_names(namespace: str = "") -> list[str]:
    """The queues a worker serves, most urgent first (a namespace keeps deployments apart)."""
    return [namespace + QUEUES[priority] for priority in sorted(QUEUES)]


def connect(
    url: str, *, connect_timeout: float | None = None, timeout: float | None = None
) -> Redis:
    """A client of ``url``. With timeouts (the web tier's): a Redis that cannot be reached,
    or accepts and never answers, fails the call (``redis.TimeoutError``, a ``RedisError``)
    after ``connect_timeout`` / ``timeout`` seconds, retried once at once, never more:
    the caller falls back instead of waiting. Without (an RQ worker, whose dequeue blocks
    on purpose): redis-py's defaults, no timeout."""
    if connect_timeout is None and timeout is None:
        return Redis.from_url(url)
    return Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
    )


def _latest_key(namespace: str, candidate: str) -> str:
    return f"{namespace}faces:latest:{candidate}"


def _latency_key(namespace: str) -> str:
    return f"{namespace}faces:latency-ms"


def enqueue(
    redis: Redis,
    kind: str,
    payload: dict[str, Any],
    *,
    config: FaceConfig | None = None,
    priority: Priority = Priority.ROUTINE,
    candidate: str | None = None,
    on_result: str | None = None,
    meta: dict[str, Any] | None = None,
    ttl: int = 120,
    namespace: str = "",
    max_queue: int = MAX_QUEUE,
) -> Job:
    """Queue a face job in its priority's queue.
    A snapshot with a ``candidate`` supersedes that candidate's snapshots still waiting."""
    queue = Queue(namespace + QUEUES[priority], connection=redis)
    if queue.count >= max_queue:
        raise Busy("face checks are busy")
    job_meta = {
        **(meta or {}),
        "_queued_at": time.time(),
        "_namespace": namespace,
        "_candidate": candidate if kind == "snapshot" else None,
    }
    job = queue.enqueue(
        run_job,
        kind,
        payload,
        config,
        on_result,
        job_meta,
        ttl=ttl,
        result_ttl=600,
        failure_ttl=600,
    )
    if job_meta["_candidate"] is not None:
        redis.set(_latest_key(namespace, job_meta["_candidate"]), job.id, ex=ttl + 60)
    return job


def run_job(
    kind: str,
    payload: dict[str, Any],
    config: FaceConfig | None,
    on_result: str | None,
    meta: dict[str, Any],
) -> dict[str, Any]:
    job = get_current_job()
    job_id = job.id if job else None
    namespace = meta.pop("_namespace", "")
    queued_at = meta.pop("_queued_at", None)
    candidate = meta.pop("_candidate", None)
    redis = job.connection if job else None
    if candidate is not None and redis is not None:
        latest = cast(bytes | None, redis.get(_latest_key(namespace, candidate)))
        if latest is not None and latest.decode() != job_id:
            # A newer snapshot of this candidate waits: the hook hears of it, run no more.
            dropped = {"ok": False, "dropped": True}
            _call(on_result, job_id, meta, dropped)
            return dropped
    result = jobs.run(kind, payload, config)
    if redis is not None and queued_at is not None:
        key = _latency_key(namespace)
        redis.lpush(key, round((time.time() - queued_at) * 1000, 1))
        redis.ltrim(key, 0, LATENCIES - 1)
    _call(on_result, job_id, meta, result)
    return result


def _call(on_result: str | None, job_id: str | None, meta: dict[str, Any], result: Any) -> None:
    if on_result:
        module, _, name = on_result.partition(":")
        getattr(importlib.import_module(module), name)(job_id, meta, result)


def metrics(redis: Redis, namespace: str = "") -> dict[str, Any]:
    """Jobs waiting per queue and the recent queue-to-result latency percentiles."""
    recent = cast(list[bytes], redis.lrange(_latency_key(namespace), 0, -1))
    latencies = [float(v) for v in recent]
    depth = {
        priority.name.lower(): Queue(namespace + name, connection=redis).count
        for priority, name in QUEUES.items()
    }
    return {
        "queue_depth": depth,
        "latency_ms_p50": percentile(latencies, 0.5),
        "latency_ms_p95": percentile(latencies, 0.95),
    }


def result(redis: Redis, job_id: str) -> dict[str, Any] | None:
    """The job's result, or None while it has not finished."""
    job = Job.fetch(job_id, connection=redis)
    status = job.get_status()
    if status == "failed":
        raise RuntimeError(f"face job {job_id} failed")
    return job.return_value() if status == "finished" else None
