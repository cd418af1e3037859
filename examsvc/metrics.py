"""Prometheus metrics: counters and histograms at the service's choke points, live gauges
read at scrape time, and ``GET /metrics`` for the host's monitoring only.

Under several gunicorn processes set ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory,
wiped at each start): prometheus-client then keeps each process's values in files there
and ``/metrics`` answers their sum, whichever process is asked (docs/deployment.md)."""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

F = TypeVar("F", bound=Callable[..., Any])

FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

ANSWERS_SAVED = Counter("examsvc_answers_saved", "Answers saved and acknowledged.", ["channel"])
ANSWER_ACK_SECONDS = Histogram(
    "examsvc_answer_ack_seconds",
    "Server-side time from an answer's arrival to its acknowledgement.",
    ["channel"],
    buckets=FAST,
)
LOGINS = Counter(
    "examsvc_logins", "Login attempts by outcome (ok or the refusal's code).", ["outcome"]
)
SNAPSHOTS_ANALYSED = Counter(
    "examsvc_snapshots_analysed",
    "Snapshots whose analysis was recorded, by decision.",
    ["decision"],
)
SNAPSHOT_ANALYSIS_SECONDS = Histogram(
    "examsvc_snapshot_analysis_seconds",
    "Time a snapshot waited for and spent in the face pool (this process's pool).",
    buckets=SLOW,
)
ADMISSION_WAIT_SECONDS = Histogram(
    "examsvc_admission_wait_seconds",
    "Time a candidate waited in the queue before the entry face verification (排队).",
    buckets=(0.5, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0),
)
WRITEBACK_FAILURES = Counter(
    "examsvc_writeback_failures",
    "Result deliveries that did not store the result: refused, http (429/5xx), network.",
    ["kind"],
)
SHED = Counter(
    "examsvc_shed",
    "Requests and socket events answered 503 busy on purpose (overload shed), by channel"
    " (http, socket) and cause (database_pool, face_pool, threads, processes, starts).",
    ["channel", "cause"],
)
LOOP_LAG_SECONDS = Histogram(
    "examsvc_loop_lag_seconds",
    "How late the event loop ran a timer: every connected candidate's requests and"
    " acknowledgements waited as long (examsvc.loop).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
GC_PAUSE_SECONDS = Histogram(
    "examsvc_gc_pause_seconds",
    "Python's cyclic garbage collections, by generation: the event loop stops for each.",
    ["generation"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
)
HTTP_SECONDS = Histogram(
    "examsvc_http_request_seconds",
    "HTTP request latency by Flask endpoint (never the raw path).",
    ["endpoint", "method"],
    buckets=FAST,
)


def timed_answer(channel: str) -> Callable[[F], F]:
    """Count and time an answer-save handler whose answer is ``{"ok": True, …}``."""

    def decorator(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = fn(*args, **kwargs)
            if isinstance(result, dict) and result.get("ok"):
                ANSWERS_SAVED.labels(channel).inc()
                ANSWER_ACK_SECONDS.labels(channel).observe(time.perf_counter() - started)
            return result

        return wrapper  # type: ignore[return-value]

    return decorator


def writeback_outcome(outcome: str, status: int | None) -> None:
    """A delivery's outcome (``results.delivery.send``): failures counted by kind."""
    if outcome == "refused":
        WRITEBACK_FAILURES.labels("refused").inc()
    elif outcome == "retrying":
        WRITEBACK_FAILURES.labels("network" if status is None else "http").inc()


# --- the scrape --------------------------------------------------------------------------


class _Scrape:
    def __init__(self, extra: tuple[Any, ...]) -> None:
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            yield from registry.collect()
        else:
            yield from REGISTRY.collect()
        for collector in self.extra:
            yield from collector.collect()


def exposition(*extra: Any) -> Response:
    """The text format of every metric (all processes' sum in multiprocess mode), plus the
    gauges of ``extra`` collectors read now."""
    return Response(generate_latest(_Scrape(extra)), mimetype=CONTENT_TYPE_LATEST)


def allowed(token: str | None, authorization: str, from_loopback: bool) -> bool:
    """``/metrics`` is for the host's monitoring or a scraper holding the token."""
    if token and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return True
    return from_loopback


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        request.environ["examsvc.started"] = time.perf_counter()

    @app.teardown_request
    def _observe(_exc: BaseException | None) -> None:
        started = request.environ.get("examsvc.started")
        if started is not None:
            endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
            HTTP_SECONDS.labels(endpoint, request.method).observe(time.perf_counter() - started)
