"""A local pool of face worker processes with deliberate load shedding.

dlib holds the GIL, so face work runs in processes (``forkserver``: the models load
once per worker, and the web process's gevent state is never forked). In front of the
processes a bounded scheduler decides what runs: entry verifications first, then flagged
candidates, then device checks, then routine snapshots; a newer snapshot of a candidate
replaces an older one still waiting; when the queue is full a job is refused at once
("busy") instead of blocking the caller, and so is a device check when ``max_checks`` of
them wait already (a storm of them never takes the places of the verifications and
snapshots). A job whose caller gave up (its future cancelled) leaves the queue at once and
never runs. A worker that dies is replaced and its jobs are retried once.
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import itertools
import multiprocessing
import os
import select
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
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


def _init_worker(owner: int, nice: int = 0) -> None:
    """Initializer of a pool process: lower its CPU priority by ``nice``, load the models,
    and end with the pool's owner.

    On a machine whose cores the face work fills, the web process on the same cores would
    wait for a time slice behind the workers: every answer's acknowledgement then waits
    too. A worker ``nice``r than the web process yields its core at once, and the face
    work takes what the web process leaves (the pool sheds routine snapshots when it falls
    behind).

    Killed or crashed, the owner never says goodbye. Under gevent (``examsvc serve``) its
    workers then never see their job queue close: each waits for jobs forever, holding the
    forkserver's liveness pipe and so the forkserver too — some 200 MB for every restart of
    the service. A thread of the worker's own (workers are not gevent-patched) waits for
    the owner's exit and ends the process."""
    if nice:
        os.nice(nice)
    threading.Thread(target=_exit_with, args=(owner,), name="owner-watch", daemon=True).start()
    jobs.warm_up()


def _exit_with(owner: int) -> None:
    try:
        handle = os.pidfd_open(owner)  # Linux: readable once the owner has exited
    except ProcessLookupError:
        os._exit(0)
    select.select([handle], [], [])
    os._exit(0)


JOBS_PIPE_BYTES = 1 << 20  # Linux's default ceiling for an unprivileged process


def _widen_jobs_pipe(executor: ProcessPoolExecutor) -> None:
    """Let the pipe that carries jobs to the workers hold ``JOBS_PIPE_BYTES`` instead of
    64 KiB (Linux; elsewhere, or refused, it stays as it is).

    multiprocessing writes a job into that pipe from a feeder thread, which under gevent is
    a greenlet on the owner's event loop, and the write blocks while the pipe is full. With
    every worker busy, the jobs in flight beyond them (up to twice the workers: a snapshot
    of ~40 KB, an entry check of three frames) filled 64 KiB, and the web process stopped,
    every candidate's acknowledgement with it, until a worker took its next job: the loop
    was seen blocked over 100 ms 223 times in a run of 1,000 candidates."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    queue = getattr(executor, "_call_queue", None)  # CPython's, since 3.2
    writer = getattr(queue, "_writer", None)
    if set_size is None or writer is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(writer.fileno(), set_size, JOBS_PIPE_BYTES)


class Priority(IntEnum):
    ENTRY = 0  # an entry verification: admission waits on it (排队)
    FLAGGED = 1  # a snapshot of a flagged candidate
    CHECK = 2  # a device check's hint (设备调试): a person waits, nothing is decided;
    # local pools only (device checks are never sent to the RQ workers)
    ROUTINE = 3  # a routine snapshot


def _settle(
    future: Future[dict[str, Any]],
    result: dict[str, Any] | None = None,
    error: BaseException | None = None,
) -> None:
    """A job's outcome to its caller, unless the caller cancelled it (while it waited)."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]
    except InvalidStateError:  # cancelled: nobody waits for it
        pass


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
    queued: bool = field(compare=False, default=False)  # in the scheduler's queue now
    config: FaceConfig | None = field(compare=False, default=None)  # else the pool's


class Scheduler:
    """What runs next: by priority, then age; a candidate's newer snapshot replaces the
    waiting one; a full queue refuses, and so does a priority at its own limit (``limits``:
    the device checks'). Not thread-safe: the pool holds its lock."""

    def __init__(self, max_queue: int, limits: Mapping[Priority, int] | None = None) -> None:
        self.max_queue = max_queue
        self.limits = {int(priority): limit for priority, limit in (limits or {}).items()}
        self._heap: list[_Job] = []
        self._latest: dict[str, _Job] = {}
        self._waiting: Counter[int] = Counter()  # live jobs by priority

    def __len__(self) -> int:
        return self._waiting.total()

    def waiting(self, priority: Priority) -> int:
        return self._waiting[int(priority)]

    def push(self, job: _Job) -> _Job | None:
        """Queue ``job``; returns the snapshot it replaced, raises Busy when full."""
        replaced = None
        if job.kind == "snapshot" and job.candidate is not None:
            replaced = self._latest.pop(job.candidate, None)
            if replaced is not None:
                self._leave(replaced)
        limit = self.limits.get(job.priority)
        if len(self) >= self.max_queue or (
            limit is not None and self._waiting[job.priority] >= limit
        ):
            if replaced is not None:  # keep the older one rather than lose both
                self._enter(replaced)
                self._latest[job.candidate or ""] = replaced
            raise Busy("face checks are busy")
        heapq.heappush(self._heap, job)
        self._enter(job)
        if job.kind == "snapshot" and job.candidate is not None:
            self._latest[job.candidate] = job
        return replaced

    def requeue(self, job: _Job) -> None:
        """Put back a job whose worker died (no limit: it was admitted already)."""
        heapq.heappush(self._heap, job)
        self._enter(job)

    def discard(self, job: _Job) -> None:
        """Take out a job still waiting (its caller gave up on it); else nothing."""
        if job.queued:
            self._leave(job)
            if job.candidate is not None and self._latest.get(job.candidate) is job:
                del self._latest[job.candidate]

    def pop(self) -> _Job | None:
        while self._heap:
            job = heapq.heappop(self._heap)
            if job.cancelled:
                continue
            job.queued = False
            self._waiting[job.priority] -= 1
            if job.candidate is not None and self._latest.get(job.candidate) is job:
                del self._latest[job.candidate]
            return job
        return None

    def drain(self) -> list[_Job]:
        jobs_left = [j for j in self._heap if not j.cancelled]
        for job in jobs_left:
            job.queued = False
        self._heap, self._latest, self._waiting = [], {}, Counter()
        return jobs_left

    def _enter(self, job: _Job) -> None:
        """``job`` (in the heap) counts as waiting."""
        job.cancelled, job.queued = False, True
        self._waiting[job.priority] += 1

    def _leave(self, job: _Job) -> None:
        """``job`` no longer waits: skipped when the heap reaches it (if it is still there)."""
        job.cancelled, job.queued = True, False
        self._waiting[job.priority] -= 1


class FacePool:
    def __init__(
        self,
        workers: int = 0,
        *,
        config: FaceConfig | None = None,
        max_queue: int = 500,
        max_checks: int = 0,
        nice: int = 0,
        context: str = "forkserver",
    ) -> None:
        """``max_checks``: device checks (``Priority.CHECK``) that may wait at once; 0:
        twice the workers (about what they finish while the page shows its last answer).
        ``nice``: how much lower the workers' CPU priority is than the owner's (0: the
        same)."""
        self.workers = workers or os.cpu_count() or 1
        self.nice = nice
        self.config = config
        self.max_queue = max_queue
        self.max_checks = max_checks or 2 * self.workers
        self._context = multiprocessing.get_context(context)
        self._lock = threading.Lock()
        self._scheduler = Scheduler(max_queue, {Priority.CHECK: self.max_checks})
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
            _settle(job.future, error=Busy("the face pool stopped"))
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _new_executor(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(os.getpid(), self.nice),
        )
        _widen_jobs_pipe(executor)
        return executor

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
        ``config`` (e.g. the thresholds of the latest calibration) replaces the pool's.
        Cancelling the future while the job waits takes it out of the queue (a caller that
        stopped waiting: ``examsvc.camera.faces.run``); once it runs it cannot be."""
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
            _settle(dropped.future, error=Dropped("a newer snapshot replaced this one"))
        future.add_done_callback(lambda done: self._forget(job) if done.cancelled() else None)
        self._dispatch()
        return future

    def _forget(self, job: _Job) -> None:
        with self._lock:
            self._scheduler.discard(job)

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
                if job.tries == 0 and not job.future.set_running_or_notify_cancel():
                    continue  # cancelled before its callback took it out of the queue
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
                _settle(job.future, error=error)
            else:
                with self._lock:
                    self.counts["completed"] += 1
                    self._latencies.append(time.monotonic() - job.queued_at)
                _settle(job.future, result=inner.result())
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
            _settle(job.future, error=WorkerCrashed(f"the worker died running a {job.kind} job"))
        self._dispatch()

    # -- metrics ---------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        with self._lock:
            latencies = list(self._latencies)
            depth = len(self._scheduler)
            checks = self._scheduler.waiting(Priority.CHECK)
            in_flight = self._in_flight

        def pct(p: float) -> float | None:
            value = percentile(latencies, p)
            return None if value is None else round(value * 1000, 1)

        return {
            "workers": self.workers,
            "queue_depth": depth,
            "checks_waiting": checks,
            "in_flight": in_flight,
            **self.counts,
            "latency_ms_p50": pct(0.5),
            "latency_ms_p95": pct(0.95),
        }
