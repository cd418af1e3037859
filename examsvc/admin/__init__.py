"""The agency's back office: the staff landing page, and the service's health (/healthz)."""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, render_template, request

from examsvc.accounts.auth import current_user, staff_required
from examsvc.admin import audit
from examsvc.admin.queries import roster_counts
from examsvc.camera import faces
from examsvc.enums import Role
from examsvc.extensions import db
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
    """Up or down for everyone; the database, and the face queues' depth and latency (the
    local pool when it runs, the RQ queues on Redis when one is configured), only for staff
    and for a loopback address (the host's own monitoring)."""
    try:  # on a connection of its own: a failure leaves the request's session clean
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError:
        database = "down"
    status = 200 if database == "ok" else 503
    body: dict[str, Any] = {"status": "ok" if status == 200 else "down"}
    user = current_user() if status == 200 else None
    if not (
        _is_loopback(request.remote_addr) or (user is not None and user.role != Role.PHYSICIAN)
    ):
        return body, status
    body["database"] = database
    if (metrics := faces.metrics()) is not None:
        body["faces"] = metrics
    if redis_url := current_app.config["REDIS_URL"]:
        body["faces_remote"] = faces.remote_metrics(redis_url)
    return body, status


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(audit.bp)
