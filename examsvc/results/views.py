"""The result notice (考核结果通知书): the physician's PDF, once the cycle's result is 合格."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app

from examsvc import offload
from examsvc.accounts.auth import physician_required
from examsvc.accounts.ids import mask
from examsvc.attempts.pages import score
from examsvc.attempts.queries import passed_papers
from examsvc.clock import now
from examsvc.results.notice import Notice, NoticePaper, render
from examsvc.roster import photos
from examsvc.roster.queries import logged_in_physician

bp = Blueprint("results", __name__)


@bp.get("/results/notice.pdf")
@physician_required
def notice() -> Any:
    """考核结果通知书 (only once the cycle's result is 合格)."""
    physician = logged_in_physician()
    if physician is None:
        abort(404)
    passed = passed_papers(physician, now())
    if passed is None:
        abort(403)
    papers = [
        NoticePaper(p.name, "免考通过" if p.exempt else f"合格（{score(p.best_score)}分）")
        for p in passed
    ]
    photo = (
        photos.load(current_app.config["DATA_DIR"], physician.photo_sha256)
        if physician.photo_sha256
        else None
    )
    procedure = {"simple": "简易程序", "general": "一般程序"}[physician.procedure.value]
    pdf = offload.process_call(
        render,
        Notice(
            physician.name,
            mask(physician.id_number),
            physician.institution_name,
            physician.cycle.name,
            procedure,
            papers,
            "合格",
            now(),
            photo,
        ),
        current_app.config["CJK_FONT"],
    )
    response = current_app.response_class(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = "inline; filename=result-notice.pdf"
    response.headers["Cache-Control"] = "private, no-store"
    return response
