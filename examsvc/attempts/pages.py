"""The candidate's pages: 考核安排, the steps before starting, the exam page, 考核结果."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from examsvc import uow
from examsvc.accounts.auth import physician_required
from examsvc.accounts.ids import mask
from examsvc.attempts import operations as ops
from examsvc.attempts.models import Attempt
from examsvc.attempts.schemas import PrepareForm
from examsvc.clock import now
from examsvc.enums import AttemptStatus
from examsvc.errors import Refused
from examsvc.extensions import db
from examsvc.papers.models import Paper
from examsvc.roster.queries import logged_in_physician
from examsvc.web.errors import form_model
from examsvc.web.i18n import gettext
from question_banks.types import QUESTION_TYPES

bp = Blueprint("attempts", __name__)


@bp.app_template_filter("score")
def score(value: float | None) -> str:
    """A score or a mark as people write it: 60, 62.5 (never 60.0 or None)."""
    return "—" if value is None else f"{value:g}"


@bp.get("/home")
@physician_required
def home() -> str:
    physician = logged_in_physician()
    if physician is None:
        return render_template("attempts/home.html", physician=None)
    result = ops.overview(physician, now())
    open_attempts = {
        a.paper_id: a.id
        for a in db.session.scalars(
            sa.select(Attempt).where(
                Attempt.physician_id == physician.id, Attempt.status == AttemptStatus.IN_PROGRESS
            )
        )
    }
    return render_template(
        "attempts/home.html",
        physician=physician,
        states=result.states,
        verdict=result.verdict,
        masked_id=mask(physician.id_number),
        open_attempts=open_attempts,
    )


@bp.route("/exam/paper/<int:paper_id>", methods=["GET", "POST"])
@physician_required
@uow.retry_conflicts
def prepare(paper_id: int) -> Any:
    """进入测评: consent (first time), 考前须知, the time available, then 开始考试."""
    physician = logged_in_physician()
    paper = db.session.get(Paper, paper_id)
    if physician is None or paper is None:
        abort(404)
    if request.method == "POST":
        form = form_model(PrepareForm)
        if form.consent and physician.user.face_consent_at is None:
            ops.give_consent(physician.user, now())
            return redirect(url_for("attempts.prepare", paper_id=paper_id))
        try:
            attempt = ops.start_attempt(
                physician, paper_id, now=now(), rules_acknowledged=form.rules
            )
        except Refused as exc:
            flash(gettext(exc.message, **exc.values), "error")
            raise uow.Discard(
                lambda: redirect(url_for("attempts.prepare", paper_id=paper_id))
            ) from None
        return redirect(url_for("attempts.exam", attempt_id=attempt.id))
    state = ops.state_of(physician, paper_id, now())
    minutes = None
    if state is not None and state.window is not None:
        minutes = int(
            ops.time_available(physician, paper, state.window, now()).total_seconds() // 60
        )
    return render_template(
        "attempts/prepare.html",
        paper=paper,
        state=state,
        minutes=minutes,
        consent_given=physician.user.face_consent_at is not None,
        full_minutes=ops.full_minutes(physician, paper),
        questions=sum(section.count for section in paper.sections),
    )


@bp.get("/exam/<int:attempt_id>")
@physician_required
def exam(attempt_id: int) -> str:
    physician = logged_in_physician()
    attempt = db.session.get(Attempt, attempt_id)
    if physician is None or attempt is None or attempt.physician_id != physician.id:
        abort(404)
    if attempt.status != AttemptStatus.IN_PROGRESS:  # the result alone, nothing left to click
        retry = ops.can_retry(attempt, now())
        return render_template(
            "attempts/finished.html",
            attempt=attempt,
            result=ops.result_view(attempt, retry),
            can_retry=retry,
        )
    # The question types in the page's language (the API gives their Chinese labels).
    type_labels = {code: gettext(kind.label_zh) for code, kind in QUESTION_TYPES.items()}
    return render_template("attempts/exam.html", attempt=attempt, type_labels=type_labels)


@bp.get("/results")
@physician_required
def results() -> str:
    physician = logged_in_physician()
    if physician is None:
        return render_template("attempts/results.html", physician=None)
    attempts = db.session.scalars(
        sa.select(Attempt)
        .where(Attempt.physician_id == physician.id)
        .order_by(Attempt.paper_id, Attempt.number)
    ).all()
    result = ops.overview(physician, now())
    return render_template(
        "attempts/results.html",
        physician=physician,
        attempts=attempts,
        states=result.states,
        verdict=result.verdict,
    )
