"""Face jobs through RQ on the real Redis, run by a real worker process."""

from __future__ import annotations

import uuid

import pytest
from rq.job import Job

from proctoring import distributed
from proctoring.pool import Busy, Priority
from tests.proctoring.conftest import jpeg, landscape, run_worker


@pytest.mark.redis
def test_worker_on_redis_runs_face_jobs(redis, photo_bytes, tmp_path):
    # A namespace of our own: other runs on the same Redis (another checkout, CI) are untouched.
    space = f"test-{uuid.uuid4().hex[:12]}-"
    marker = f"{space}hook"
    two = photo_bytes("face_recognition/two_people.jpg")
    jobs = [
        distributed.enqueue(redis, "count", {"image": two}, namespace=space),
        distributed.enqueue(redis, "count", {"image": jpeg(landscape())}, namespace=space),
        distributed.enqueue(
            redis,
            "registration_photo",
            {"image": photo_bytes("face_recognition/obama.jpg")},
            priority=Priority.ENTRY,
            on_result="tests.proctoring.hook:remember",
            meta={"key": marker},
            namespace=space,
        ),
    ]
    results = run_worker(redis, space, [job.id for job in jobs], tmp_path)
    assert results[0]["count"] == 2 and results[1]["count"] == 0
    assert results[2]["ok"] and len(results[2]["encoding"]) == 1024
    # The on_result hook ran in the worker with the job's meta.
    assert redis.get(marker) == jobs[2].id.encode()
    redis.delete(marker)


@pytest.mark.redis
def test_redis_queue_sheds_stale_snapshots_refuses_when_full_and_reports(
    redis, photo_bytes, tmp_path
):
    space = f"test-{uuid.uuid4().hex[:12]}-"
    image = photo_bytes("face_recognition/obama.jpg")
    older = [
        distributed.enqueue(redis, "snapshot", {"image": image}, candidate="doc-1", namespace=space)
        for _ in range(2)
    ]
    newest = distributed.enqueue(
        redis, "snapshot", {"image": image}, candidate="doc-1", namespace=space
    )
    other = distributed.enqueue(
        redis, "snapshot", {"image": image}, candidate="doc-2", namespace=space
    )
    flagged = distributed.enqueue(
        redis, "count", {"image": image}, priority=Priority.FLAGGED, namespace=space
    )
    entry = distributed.enqueue(
        redis, "count", {"image": image}, priority=Priority.ENTRY, namespace=space
    )
    before = distributed.metrics(redis, space)
    assert before["queue_depth"] == {"entry": 1, "flagged": 1, "routine": 4}
    assert before["latency_ms_p50"] is None
    with pytest.raises(Busy):
        distributed.enqueue(redis, "count", {"image": image}, namespace=space, max_queue=4)

    jobs = [*older, newest, other, flagged, entry]
    results = run_worker(redis, space, [job.id for job in jobs], tmp_path)

    assert [r.get("dropped") for r in results[:2]] == [True, True]  # superseded, not computed
    assert results[2]["face_count"] == 1 and results[3]["face_count"] == 1
    assert results[4]["count"] == 1 and results[5]["count"] == 1
    # Queued last, served first: the entry check, then the flagged candidate, then routine.
    started = [Job.fetch(job.id, connection=redis).started_at for job in jobs]
    assert started[5] < started[4] < min(started[:4])
    after = distributed.metrics(redis, space)
    assert after["queue_depth"] == {"entry": 0, "flagged": 0, "routine": 0}
    assert (
        after["latency_ms_p50"] is not None and after["latency_ms_p95"] >= after["latency_ms_p50"]
    )
    redis.delete(
        f"{space}faces:latency-ms", f"{space}faces:latest:doc-1", f"{space}faces:latest:doc-2"
    )
