"""The agency's back office: the staff landing page, and the service's liveness (/healthz) and readiness (/readyz)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request

from examsvc import drain, health, metrics
from examsvc.accounts.auth import current_user, staff_required
from examsvc.admin import audit
from examsvc.admin.queries import roster_counts
from examsvc.camera import faces
from examsvc.enums import Role
from examsvc.health import is_loopback
from examsvc.invigilation.queries import invigilator_sessions
from examsvc.roster.queries import current_cycle

bp = Blueprint("admin", __name__)


@bp.get("/admin")
@staff_required
def dashboard() -> str:
    cycle = current_cycle()
    user = current_user()
    mine = invigilator_sessions(user.id) if user and user.role == Role.INVIGILATOR else None
    return render_template(
        "admin/dashboard.html",
        cycle=cycle,
        counts=roster_counts(cycle) if cycle else None,
        my_sessions=mine,
    )


@bp.get("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    """Liveness: the process answers. Nothing is checked (``/readyz`` does that); from a
    loopback address or for staff, the face queues' depth and latency are added (the local
    pool when it runs, the RQ queues on Redis when one is configured) and whether this
    process is stopping (``examsvc.drain``)."""
    body: dict[str, Any] = {"status": "ok"}
    user = current_user()
    if not (is_loopback(request.remote_addr) or (user is not None and user.role != Role.PHYSICIAN)):
        return body, 200
    body["process"] = {"draining": drain.draining(), "in_flight": drain.in_flight()}
    if (metrics := faces.metrics()) is not None:
        body["faces"] = metrics
    if redis_url := current_app.config["REDIS_URL"]:
        body["faces_remote"] = faces.remote_metrics(redis_url)
    return body, 200


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    """Readiness for the balancer and the monitoring (``examsvc.health``): counts and class
    names only, nothing personal, so it answers anyone."""
    return health.readiness(current_app._get_current_object())  # type: ignore[attr-defined]


@bp.get("/metrics")
def metrics_scrape() -> Response:
    """Prometheus, for loopback or ``EXAMSVC_METRICS_TOKEN`` (nginx denies it outside)."""
    config = current_app.config
    given = request.headers.get("Authorization", "")
    if not metrics.allowed(config["METRICS_TOKEN"], given, is_loopback(request.remote_addr)):
        return Response("not found\n", 404, mimetype="text/plain")
    from examsvc.admission.events import QueueGauges  # local import: the feature's own gauges

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return metrics.exposition(health.LiveGauges(app), QueueGauges(app))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(audit.bp)
