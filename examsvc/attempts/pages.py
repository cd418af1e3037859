"""The candidate's pages (owned by the pages engineer; a stub until then)."""

from __future__ import annotations

from flask import Blueprint, render_template

from examsvc.accounts.auth import physician_required

bp = Blueprint("attempts", __name__)


@bp.get("/home")
@physician_required
def home() -> str:
    return render_template("error.html", status=200, message="考核安排")
