"""Liveness and readiness: each check a plain function answering ``{"ok", "detail", …}``.

``/healthz`` (liveness) only says the process answers. ``/readyz`` (readiness) runs the
checks below with short timeouts, each on a connection of its own and no transaction held:
the database down makes the service down (503); Redis, the face workers, the registration
system or the write-back backlog make it degraded (200, still serving). Nothing personal
is in any answer: counts, ages and error class names only."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import sqlalchemy as sa
from flask import Flask
from prometheus_client.core import GaugeMetricFamily, Metric
from redis import Redis, RedisError

from examsvc import drain
from examsvc.camera import faces
from examsvc.clock import now
from examsvc.extensions import db
from examsvc.results.models import DeliveryStatus, ResultDelivery
from proctoring import distributed

PROBE_SECONDS = 2.0  # the longest a dependency may take to answer a readiness probe
REGISTRY_EVERY_SECONDS = 60.0  # the registry is asked at most this often (cached between)


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def check_database() -> dict[str, Any]:
    try:  # a connection of its own: a failure leaves the request's session clean
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return {"ok": False, "detail": f"unreachable ({type(exc).__name__})"}
    return {"ok": True, "detail": "reachable"}


def _redis(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=PROBE_SECONDS, socket_connect_timeout=PROBE_SECONDS)


def check_redis(url: str | None) -> dict[str, Any]:
    if not url:
        return {"ok": None, "detail": "not configured"}
    try:
        _redis(url).ping()
    except (RedisError, OSError) as exc:
        return {"ok": False, "detail": f"unreachable ({type(exc).__name__})"}
    return {"ok": True, "detail": "reachable"}


def check_face_workers(redis_url: str | None, prefix: str = "") -> dict[str, Any]:
    """The local pool of this process, or RQ workers listening on the face queues."""
    if redis_url:
        try:
            from rq import Worker  # local import: rq is needed only with Redis

            names = set(distributed.queue_names(prefix))
            workers = [
                w for w in Worker.all(connection=_redis(redis_url)) if names & set(w.queue_names())
            ]
        except (RedisError, OSError) as exc:
            return {"ok": False, "detail": f"face queues unreachable ({type(exc).__name__})"}
        if not workers:
            return {"ok": False, "detail": "no RQ face worker listening"}
        return {"ok": True, "detail": f"{len(workers)} RQ face workers"}
    pool = faces.metrics()
    if pool is None:
        return {"ok": False, "detail": "no face pool in this process"}
    return {
        "ok": True,
        "detail": f"{pool['workers']} workers, {pool['queue_depth']} waiting",
    }


def face_queue_depth(redis_url: str | None = None, prefix: str = "") -> int:
    if redis_url:
        try:
            depth = distributed.metrics(_redis(redis_url), prefix)["queue_depth"]
            return int(sum(depth.values()))
        except (RedisError, OSError):
            return 0
    pool = faces.metrics()
    return int(pool["queue_depth"]) if pool else 0


# --- the registration system: probed at most once a minute ------------------------------


class _RegistryProbe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at = -REGISTRY_EVERY_SECONDS
        self.url: str | None = None
        self.answer: dict[str, Any] = {"ok": None, "detail": "not probed yet"}

    def check(self, base_url: str | None) -> dict[str, Any]:
        if not base_url:
            return {"ok": None, "detail": "not configured"}
        fresh = self.url == base_url and time.monotonic() - self.at < REGISTRY_EVERY_SECONDS
        # One probe at a time: the others answer the last result at once.
        if fresh or not self.lock.acquire(blocking=False):
            return self.answer
        try:
            self.answer = self._probe(base_url)
            self.url, self.at = base_url, time.monotonic()
        finally:
            self.lock.release()
        return self.answer

    @staticmethod
    def _probe(base_url: str) -> dict[str, Any]:
        """Any HTTP answer means reachable (the contract has no health route)."""
        try:
            requests.get(base_url, timeout=PROBE_SECONDS, allow_redirects=False)
        except requests.RequestException as exc:
            return {"ok": False, "detail": f"unreachable ({type(exc).__name__})"}
        return {"ok": True, "detail": "reachable"}


registry_probe = _RegistryProbe()


# --- the write-back outbox ------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    pending: int
    refused: int
    oldest_pending_seconds: float | None


def writeback_backlog(at: datetime | None = None) -> Backlog:
    """Counts of the outbox's pending and refused rows and the oldest pending one's age."""
    row = ResultDelivery
    query = sa.select(
        sa.func.count().filter(row.status == DeliveryStatus.PENDING),
        sa.func.count().filter(row.status == DeliveryStatus.REFUSED),
        sa.func.min(row.queued_at).filter(row.status == DeliveryStatus.PENDING),
    )
    with db.engine.connect() as connection:
        pending, refused, oldest = connection.execute(query).one()
    if isinstance(oldest, str):  # SQLite's aggregate loses the column type
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    age = None if oldest is None else max(0.0, ((at or now()) - oldest).total_seconds())
    return Backlog(int(pending), int(refused), age)


def check_writeback(max_age_seconds: int) -> dict[str, Any]:
    try:
        backlog = writeback_backlog()
    except sa.exc.SQLAlchemyError as exc:
        return {
            "ok": False,
            "pending": 0,
            "refused": 0,
            "oldest_pending_seconds": None,
            "detail": f"unreadable ({type(exc).__name__})",
        }
    age = backlog.oldest_pending_seconds
    late = age is not None and age > max_age_seconds
    problems = []
    if late:
        problems.append(f"oldest pending result waits longer than {max_age_seconds} s")
    if backlog.refused:
        problems.append("results refused by the registration system")
    return {
        "ok": not problems,
        "pending": backlog.pending,
        "refused": backlog.refused,
        "oldest_pending_seconds": None if age is None else round(age, 1),
        "detail": "; ".join(problems) or "up to date",
    }


class LiveGauges:
    """Gauges read when ``/metrics`` is scraped: the face queue and the write-back backlog."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        config = self.app.config
        depth = GaugeMetricFamily(
            "examsvc_face_queue_depth", "Face jobs waiting (this process's pool, or the RQ queues)."
        )
        depth.add_metric(
            [], face_queue_depth(config["REDIS_URL"], config["FACE_QUEUE_PREFIX"] or "")
        )
        yield depth
        try:
            backlog = writeback_backlog()
        except sa.exc.SQLAlchemyError:
            return
        gauge = GaugeMetricFamily(
            "examsvc_writeback_backlog",
            "Results not stored by the registry, by state.",
            labels=["state"],
        )
        gauge.add_metric(["pending"], backlog.pending)
        gauge.add_metric(["refused"], backlog.refused)
        yield gauge
        oldest = GaugeMetricFamily(
            "examsvc_writeback_oldest_pending_seconds",
            "Age of the oldest pending result (0: none).",
        )
        oldest.add_metric([], backlog.oldest_pending_seconds or 0.0)
        yield oldest


def readiness(app: Flask) -> tuple[dict[str, Any], int]:
    """``/readyz``: the checks, the overall status and its HTTP status."""
    config = app.config
    redis_url = config["REDIS_URL"]
    redis = check_redis(redis_url)
    checks = {
        "database": check_database(),
        "redis": redis,
        # The RQ face queues are on that Redis: not asked again when it did not answer (a
        # hung Redis would cost the probe a second timeout).
        "face_workers": {"ok": False, "detail": "face queues unreachable (redis)"}
        if redis["ok"] is False
        else check_face_workers(redis_url, config["FACE_QUEUE_PREFIX"] or ""),
        "registry": registry_probe.check(config["REGISTRY_BASE_URL"]),
    }
    checks["writeback"] = (
        check_writeback(config["READY_WRITEBACK_MAX_AGE"])
        if checks["database"]["ok"]
        else {
            "ok": False,
            "pending": 0,
            "refused": 0,
            "oldest_pending_seconds": None,
            "detail": "database unreachable",
        }
    )
    if not checks["database"]["ok"] or drain.draining():
        status = "down"
    elif any(check["ok"] is False for check in checks.values()):
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "checks": checks}, 503 if status == "down" else 200
