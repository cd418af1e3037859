"""CPU-bound work off the event loop: password hashing on threads, parsing and PDFs in
processes, each behind a bounded queue that answers "busy" instead of piling up.

``examsvc serve`` is one gevent process: whatever runs in a greenlet without yielding
stalls every candidate's answer saves. So under ``serve`` (``start``):

- ``hash_call`` runs a function on a real OS thread (gevent's thread pool). For C code
  that releases the GIL, such as argon2-cffi, and for blocking file system calls (the
  retention purge's unlinks), which gevent does not make cooperative: the loop keeps
  running meanwhile.
- ``process_call`` runs a module-level function in a worker process. For pure-Python
  work that holds the GIL (openpyxl parsing, fpdf2 rendering); arguments and results
  are pickled.

Each pool admits its workers' count plus ``queue`` waiting calls; one more is refused at
once with ``Busy`` (HTTP 503, the API's error shape), so a flood costs nothing but the
refusals. While a call waits, the request's read-only database transaction is ended so
that its pooled connection serves answer saves meanwhile (as ``faces.run`` does).

Without ``start`` (commands, tests, the roster pull's child process) there is no loop
to protect and every call runs in the caller, with the same results and errors.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from flask import Flask

from examsvc import uow
from examsvc.web.errors import BUSY_RETRY_SECONDS, ApiError

T = TypeVar("T")


class Busy(ApiError):
    """The pool and its queue are full: the call was refused, nothing is waiting."""

    def __init__(self, pool: str) -> None:
        super().__init__(
            503, "busy", "服务器繁忙，请稍后再试", retry_after=BUSY_RETRY_SECONDS, cause=pool
        )
        self.pool = pool


class _Pool:
    """A fixed number of workers plus a bounded number of waiting calls."""

    def __init__(self, name: str, workers: int, queue: int) -> None:
        self.name = name
        self.workers = workers
        self.limit = workers + queue
        self._pending = 0
        self._lock = threading.Lock()
        self.counts = {"completed": 0, "refused": 0, "most_pending": 0}

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._pending >= self.limit:
                self.counts["refused"] += 1
                raise Busy(self.name)
            self._pending += 1
            self.counts["most_pending"] = max(self.counts["most_pending"], self._pending)
        try:
            uow.release_if_read_only()
            result = self._run(fn, *args)
            self.counts["completed"] += 1
            return result
        finally:
            with self._lock:
                self._pending -= 1

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def metrics(self) -> dict[str, int]:
        return {"workers": self.workers, "limit": self.limit, "pending": self._pending} | (
            self.counts
        )


class _ThreadPool(_Pool):
    """Real OS threads: gevent's own pool under ``serve`` (threading is patched there, so
    a ThreadPoolExecutor's threads would be greenlets), else the standard library's."""

    def __init__(self, workers: int, queue: int) -> None:
        super().__init__("threads", workers, queue)
        self._gevent: Any = None
        self._executor: ThreadPoolExecutor | None = None
        if _gevent_patched():
            from gevent.threadpool import ThreadPool  # local import: only under gevent (serve)

            self._gevent = ThreadPool(workers)
        else:
            self._executor = ThreadPoolExecutor(workers, thread_name_prefix="offload")

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._gevent is not None:
            return self._gevent.spawn(fn, *args).get()
        assert self._executor is not None
        return self._executor.submit(fn, *args).result()

    def stop(self) -> None:
        if self._gevent is not None:
            self._gevent.kill()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


class _ProcessPool(_Pool):
    """Worker processes (``forkserver``: gevent's state is never forked into them)."""

    def __init__(self, workers: int, queue: int) -> None:
        super().__init__("processes", workers, queue)
        self._restart = threading.Lock()
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
        # Start every process now, submitted back to back (one process each): starting
        # one later would block the submitting greenlet, and so the loop, for a while.
        for started in [executor.submit(os.getpid) for _ in range(self.workers)]:
            started.result(timeout=120)
        return executor

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        executor = self._executor
        try:
            future: Future[T] = executor.submit(fn, *args)
            return future.result()
        except BrokenProcessPool:
            # A worker died (killed, out of memory): later calls get fresh processes. The
            # first caller to notice replaces the executor; the others just report busy.
            with self._restart:
                if self._executor is executor:
                    self._executor = self._new_executor()
                    executor.shutdown(wait=False, cancel_futures=True)
            raise Busy(self.name) from None

    def stop(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _init_worker(owner: int) -> None:
    """Import the heavy libraries once, and end with the pool's owner."""
    # local import: the worker process's own start, with the heavy libraries loaded once
    from proctoring.pool import _exit_with

    threading.Thread(target=_exit_with, args=(owner,), name="owner-watch", daemon=True).start()
    # local import: loaded once per worker process, before its first job
    import fpdf  # noqa: F401
    import openpyxl  # noqa: F401


def _gevent_patched() -> bool:
    if "gevent.monkey" not in sys.modules:
        return False
    from gevent import monkey  # local import: gevent is loaded already (checked above)

    return bool(monkey.is_module_patched("threading"))


_threads: _ThreadPool | None = None
_processes: _ProcessPool | None = None


def start(app: Flask) -> None:
    """Start both pools (``examsvc serve``); sizes from ``OFFLOAD_*`` settings."""
    global _threads, _processes
    spare = max(1, (os.cpu_count() or 1) - 1)  # one core stays with the event loop
    queue = app.config["OFFLOAD_QUEUE"]
    if _threads is None:
        _threads = _ThreadPool(app.config["OFFLOAD_THREADS"] or spare, queue)
    if _processes is None:
        _processes = _ProcessPool(app.config["OFFLOAD_PROCESSES"] or spare, queue)


def stop() -> None:
    global _threads, _processes
    for pool in (_threads, _processes):
        if pool is not None:
            pool.stop()
    _threads = _processes = None


def hash_call(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on an OS thread when the pools run, else here. For GIL-free C code."""
    if _threads is None:
        return fn(*args)
    return _threads.call(fn, *args)


def process_call(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker process when the pools run, else here. ``fn`` is a
    module-level function; its arguments, result and exceptions must pickle."""
    if _processes is None:
        return fn(*args)
    return _processes.call(fn, *args)


def metrics() -> dict[str, dict[str, int]] | None:
    if _threads is None or _processes is None:
        return None
    return {"threads": _threads.metrics(), "processes": _processes.metrics()}
