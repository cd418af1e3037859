"""A local pool of face worker processes with deliberate load shedding.

dlib holds the GIL, so face work runs in processes (``forkserver``: the models load
once per worker, and the web process's gevent state is never forked). In front of the
processes a bounded scheduler decides what runs: entry verifications first, then flagged
candidates, then device checks, then routine snapshots; a newer snapshot of a candidate
replaces an older one still waiting; when the queue is full a job is refused at once
("busy") instead of blocking the caller. A worker that dies is replaced and its jobs are retried once.
"""

from __future__ import annotations

import heapq
import itertools
import multiprocessing
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from proctoring import jobs
from proctoring.config import FaceConfig


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p`` percentile (0–1) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def _init_worker(owner: int) -> None:
    """Initializer of a pool process: load the models, and end with the pool's owner.

    Killed or crashed, the owner never says goodbye. Under gevent (``examsvc serve``) its
    workers then never see their job queue close: each waits for jobs forever, holding the
    forkserver's liveness pipe and so the forkserver too — some 200 MB for every restart of
    the service. A thread of the worker's own (workers are not gevent-patched) waits for
    the owner's exit and ends the process."""
    threading.Thread(target=_exit_with, args=(owner,), name="owner-watch", daemon=True).start()
    jobs.warm_up()


def _exit_with(owner: int) -> None:
    try:
        handle = os.pidfd_open(owner)  # Linux: readable once the owner has exited
    except ProcessLookupError:
        os._exit(0)
    select.select([handle], [], [])
    os._exit(0)


class Priority(IntEnum):
    ENTRY = 0  # an entry verification: admission waits on it (排队)
    FLAGGED = 1  # a snapshot of a flagged candidate
    CHECK = 2  # a device check's hint (设备调试): a person waits, nothing is decided;
    # local pools only (device checks are never sent to the RQ workers)
    ROUTINE = 3  # a routine snapshot


class Busy(Exception):
    """The pool's queue is full: the job was refused, nothing is waiting."""


class Dropped(Exception):
    """A newer snapshot of the same candidate replaced this one before it ran."""


class WorkerCrashed(Exception):
    """The job's worker process died twice while running it."""


@dataclass(order=True)
class _Job:
    priority: int
    order: int
    kind: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    candidate: str | None = field(compare=False)
    future: Future[dict[str, Any]] = field(compare=False)
    queued_at: float = field(compare=False)
    tries: int = field(compare=False, default=0)
    cancelled: bool = field(compare=False, default=False)
    config: FaceConfig | None = field(compare=False, default=None)  # else the pool's


class Scheduler:
    """What runs next: by priority, then age; a candidate's newer snapshot replaces the
    waiting one; a full queue refuses. Not thread-safe: the pool holds its lock."""

    def __init__(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self._heap: list[_Job] = []
        self._latest: dict[str, _Job] = {}
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def push(self, job: _Job) -> _Job | None:
        """Queue ``job``; returns the snapshot it replaced, raises Busy when full."""
        replaced = None
        if job.kind == "snapshot" and job.candidate is not None:
            replaced = self._latest.pop(job.candidate, None)
            if replaced is not None:
                replaced.cancelled = True
                self._live -= 1
        if self._live >= self.max_queue:
            if replaced is not None:  # keep the older one rather than lose both
                replaced.cancelled = False
                self._latest[job.candidate or ""] = replaced
                self._live += 1
            raise Busy("face checks are busy")
        heapq.heappush(self._heap, job)
        self._live += 1
        if job.kind == "snapshot" and job.candidate is not None:
            self._latest[job.candidate] = job
        return replaced

    def requeue(self, job: _Job) -> None:
        """Put back a job whose worker died (no limit: it was admitted already)."""
        job.cancelled = False
        heapq.heappush(self._heap, job)
        self._live += 1

    def pop(self) -> _Job | None:
        while self._heap:
            job = heapq.heappop(self._heap)
            if job.cancelled:
                continue
            self._live -= 1
            if job.candidate is not None and self._latest.get(job.candidate) is job:
                del self._latest[job.candidate]
            return job
        return None

    def drain(self) -> list[_Job]:
        jobs_left = [j for j in self._heap if not j.cancelled]
        self._heap, self._latest, self._live = [], {}, 0
        return jobs_left


class FacePool:
    def __init__(
        self,
        workers: int = 0,
        *,
        config: FaceConfig | None = None,
        max_queue: int = 500,
        context: str = "forkserver",
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.config = config
        self.max_queue = max_queue
        self._context = multiprocessing.get_context(context)
        self._lock = threading.Lock()
        self._scheduler = Scheduler(max_queue)
        self._in_flight = 0
        self._order = itertools.count()
        self._executor: ProcessPoolExecutor | None = None
        self._latencies: deque[float] = deque(maxlen=1000)
        self.counts = {"completed": 0, "dropped": 0, "rejected": 0, "crashed": 0, "restarts": 0}

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> FacePool:
        """Start every worker process now, models loaded, before any frame arrives: the
        executor would otherwise start them on the first jobs, and starting a process
        blocks the submitting thread — under gevent, the whole event loop — for about
        half a second, while the first candidate waits for the models as well."""
        with self._lock:
            if self._executor is not None:
                return self
            self._executor = executor = self._new_executor()
        # Submitted back to back, before any worker is up and idle: one process each.
        for pid in [executor.submit(jobs.ready) for _ in range(self.workers)]:
            pid.result(timeout=300)
        return self

    def stop(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            waiting = self._scheduler.drain()
        for job in waiting:
            job.future.set_exception(Busy("the face pool stopped"))
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )

    # -- submitting ------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        candidate: str | None = None,
        priority: Priority = Priority.ROUTINE,
        config: FaceConfig | None = None,
    ) -> Future[dict[str, Any]]:
        """Queue a job; never blocks. The future fails with Busy, Dropped or WorkerCrashed.
        ``config`` (e.g. the thresholds of the latest calibration) replaces the pool's."""
        future: Future[dict[str, Any]] = Future()
        job = _Job(
            int(priority),
            next(self._order),
            kind,
            payload,
            candidate,
            future,
            time.monotonic(),
            config=config,
        )
        with self._lock:
            if self._executor is None:
                raise RuntimeError("the face pool is not started")
            try:
                dropped = self._scheduler.push(job)
            except Busy as exc:
                self.counts["rejected"] += 1
                future.set_exception(exc)
                return future
            if dropped is not None:
                self.counts["dropped"] += 1
        if dropped is not None:
            dropped.future.set_exception(Dropped("a newer snapshot replaced this one"))
        self._dispatch()
        return future

    def run(
        self, kind: str, payload: dict[str, Any], timeout: float = 60, **kw: Any
    ) -> dict[str, Any]:
        """Submit and wait (for command-line use; the web tier waits on the future)."""
        return self.submit(kind, payload, **kw).result(timeout=timeout)

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                if self._executor is None or self._in_flight >= self.workers * 2:
                    return
                job = self._scheduler.pop()
                if job is None:
                    return
                self._in_flight += 1
                executor = self._executor
            try:
                inner = executor.submit(jobs.run, job.kind, job.payload, job.config or self.config)
            except (BrokenProcessPool, RuntimeError):
                self._on_broken(job, executor)
                continue
            inner.add_done_callback(self._callback(job, executor))

    def _callback(self, job: _Job, executor: ProcessPoolExecutor) -> Callable[[Future[Any]], None]:
        def done(inner: Future[Any]) -> None:
            with self._lock:
                self._in_flight -= 1
            error = inner.exception()
            if isinstance(error, BrokenProcessPool):
                self._on_broken(job, executor)
            elif error is not None:
                job.future.set_exception(error)
            else:
                with self._lock:
                    self.counts["completed"] += 1
                    self._latencies.append(time.monotonic() - job.queued_at)
                job.future.set_result(inner.result())
            self._dispatch()

        return done

    def _on_broken(self, job: _Job, executor: ProcessPoolExecutor) -> None:
        """A worker died: replace the processes, retry the job once."""
        with self._lock:
            if self._executor is executor:
                self._executor = self._new_executor()
                self.counts["restarts"] += 1
                executor.shutdown(wait=False, cancel_futures=True)
            job.tries += 1
            if job.tries >= 2:
                self.counts["crashed"] += 1
                retry = False
            else:
                self._scheduler.requeue(job)
                retry = True
        if not retry:
            job.future.set_exception(WorkerCrashed(f"the worker died running a {job.kind} job"))
        self._dispatch()

    # -- metrics ---------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        with self._lock:
            latencies = list(self._latencies)
            depth = len(self._scheduler)
            in_flight = self._in_flight

        def pct(p: float) -> float | None:
            value = percentile(latencies, p)
            return None if value is None else round(value * 1000, 1)

        return {
            "workers": self.workers,
            "queue_depth": depth,
            "in_flight": in_flight,
            **self.counts,
            "latency_ms_p50": pct(0.5),
            "latency_ms_p95": pct(0.95),
        }
