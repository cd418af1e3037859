"""The audit log page: who did what and when (administrators), in people's words. It is a
page of the back office: examsvc.audit only records (every feature writes there)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, render_template, request

from examsvc.accounts.auth import admin_required
from examsvc.accounts.ids import mask
from examsvc.accounts.models import User
from examsvc.admin import audit_labels as labels
from examsvc.audit.models import AuditEvent
from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.marks import N_

bp = Blueprint("audit", __name__)


def _actor(event: AuditEvent, user: User | None) -> str:
    if user is not None:
        # A physician's user name is their ID number: never shown in full.
        login = mask(user.login) if user.role == Role.PHYSICIAN else user.login
        return f"{user.display_name}（{login}）"
    if event.detail.get("via") == "cli":
        return N_("命令行")
    return N_("未登录访客") if event.action.startswith("login") else N_("系统")


@bp.get("/admin/audit")
@admin_required
def index() -> str:
    query = sa.select(AuditEvent, User).outerjoin(User, User.id == AuditEvent.actor_id)
    group = request.args.get("group", "")
    if group in labels.FILTERS:
        prefixes = labels.FILTERS[group][1]
        query = query.where(sa.or_(*(AuditEvent.action.startswith(p) for p in prefixes)))
    rows: list[dict[str, Any]] = [
        {
            "at": event.at,
            "actor": _actor(event, user),
            "action": labels.action_label(event.action),
            "object": labels.object_label(event.object_type, event.object_id),
            "details": labels.detail_pairs(event.detail),
        }
        for event, user in db.session.execute(query.order_by(AuditEvent.id.desc()).limit(300))
    ]
    filters = [(key, label) for key, (label, _) in labels.FILTERS.items()]
    return render_template("audit/index.html", rows=rows, group=group, filters=filters)
