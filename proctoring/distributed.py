"""The same face jobs through a distributed queue on Redis (RQ), for workers elsewhere.

The web tier enqueues; ``python -m proctoring.worker --redis URL`` runs jobs with the
models loaded once (a SimpleWorker: no fork per job). A result can be fetched by job
id, and an optional ``on_result`` hook (a dotted path ``module:function``) is called in
the worker with ``(job_id, meta, result)`` — the web tier uses it to emit the decision
through Socket.IO's Redis message queue.
"""

from __future__ import annotations

import importlib
from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job

from proctoring import jobs
from proctoring.config import FaceConfig

QUEUES = {"entry": "faces-entry", "routine": "faces"}  # workers listen in this order


def queue_names(namespace: str = "") -> list[str]:
    """The queues a worker serves, entry checks first (a namespace keeps deployments apart)."""
    return [namespace + QUEUES["entry"], namespace + QUEUES["routine"]]


def connect(url: str) -> Redis:
    return Redis.from_url(url)


def enqueue(
    redis: Redis,
    kind: str,
    payload: dict[str, Any],
    *,
    config: FaceConfig | None = None,
    entry: bool = False,
    on_result: str | None = None,
    meta: dict[str, Any] | None = None,
    ttl: int = 120,
    namespace: str = "",
) -> Job:
    """Queue a face job; entry checks go to their own queue, which workers serve first."""
    queue = Queue(namespace + QUEUES["entry" if entry else "routine"], connection=redis)
    return queue.enqueue(
        run_job,
        kind,
        payload,
        config,
        on_result,
        meta or {},
        ttl=ttl,
        result_ttl=600,
        failure_ttl=600,
    )


def run_job(
    kind: str,
    payload: dict[str, Any],
    config: FaceConfig | None,
    on_result: str | None,
    meta: dict[str, Any],
) -> dict[str, Any]:
    from rq import get_current_job

    result = jobs.run(kind, payload, config)
    if on_result:
        module, _, name = on_result.partition(":")
        job = get_current_job()
        getattr(importlib.import_module(module), name)(job.id if job else None, meta, result)
    return result


def result(redis: Redis, job_id: str) -> dict[str, Any] | None:
    """The job's result, or None while it has not finished."""
    job = Job.fetch(job_id, connection=redis)
    status = job.get_status()
    if status == "failed":
        raise RuntimeError(f"face job {job_id} failed")
    return job.return_value() if status == "finished" else None
