"""The audit log page: who changed what and when (administrators)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request

from examsvc.accounts.auth import admin_required
from examsvc.accounts.models import User
from examsvc.audit.models import AuditEvent
from examsvc.extensions import db

bp = Blueprint("audit", __name__)


@bp.get("/admin/audit")
@admin_required
def index() -> str:
    query = sa.select(AuditEvent, User.login).outerjoin(User, User.id == AuditEvent.actor_id)
    if action := request.args.get("action", "").strip():
        query = query.where(AuditEvent.action.startswith(action))
    rows = db.session.execute(query.order_by(AuditEvent.id.desc()).limit(300)).all()
    return render_template("audit/index.html", rows=rows, action=action)
