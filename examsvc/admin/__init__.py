"""The agency's back office: the staff landing page."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from examsvc.accounts.auth import current_user, staff_required
from examsvc.enums import Role

bp = Blueprint("admin", __name__)


@bp.get("/admin")
@staff_required
def dashboard() -> str:
    from examsvc.admin.queries import invigilator_sessions, roster_counts
    from examsvc.roster.queries import current_cycle

    cycle = current_cycle()
    user = current_user()
    mine = invigilator_sessions(user.id) if user and user.role == Role.INVIGILATOR else None
    return render_template(
        "admin/dashboard.html",
        cycle=cycle,
        counts=roster_counts(cycle) if cycle else None,
        my_sessions=mine,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
