"""The candidate's pages: 考核安排, the steps before starting, the exam page, 考核结果."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import orm

from examsvc import uow
from examsvc.accounts.auth import physician_required
from examsvc.accounts.ids import mask
from examsvc.attempts import operations as ops
from examsvc.attempts import rules
from examsvc.attempts.api import entry
from examsvc.attempts.models import Attempt
from examsvc.attempts.schemas import PrepareForm
from examsvc.clock import now
from examsvc.enums import AttemptStatus
from examsvc.errors import Refused
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.papers.models import Paper
from examsvc.roster.queries import logged_in_physician
from examsvc.web.errors import form_model
from examsvc.web.i18n import current_language, gettext
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
    when = now()
    result = ops.overview(physician, when)
    minutes = current_app.config["CHECKIN_MINUTES"]
    open_attempts = {
        a.paper_id: a.id
        for a in db.session.scalars(
            sa.select(Attempt).where(
                Attempt.physician_id == physician.id, Attempt.status == AttemptStatus.IN_PROGRESS
            )
        )
    }
    latest: dict[int, Attempt] = {}
    for a in db.session.scalars(
        sa.select(Attempt).where(Attempt.physician_id == physician.id).order_by(Attempt.number)
    ):
        latest[a.paper_id] = a
    return render_template(
        "attempts/home.html",
        physician=physician,
        states=result.states,
        verdict=result.verdict,
        masked_id=mask(physician.id_number),
        open_attempts=open_attempts,
        checking_in={s.paper.id for s in result.states if rules.checks_in(s, when, minutes)},
        # A paper whose last attempt an invigilator voided says so (违纪终止, with the reason).
        voided={pid: a for pid, a in latest.items() if a.status == AttemptStatus.VOIDED},
    )


@bp.route("/exam/paper/<int:paper_id>", methods=["GET", "POST"])
@physician_required
@uow.retry_conflicts
def prepare(paper_id: int) -> Any:
    """进入测评's last step, 考前须知 and 【我知晓--开始考试】, after the camera's steps
    (device check, consent, face verification: the gate sends the candidate there first)."""
    physician = logged_in_physician()
    paper = db.session.get(Paper, paper_id)
    if physician is None or paper is None:
        abort(404)
    when = now()
    state = ops.state_of(physician, paper_id, when)
    # 候考: before the opening the steps can be done, and the start waits for the opening.
    checking_in = state is not None and rules.checks_in(
        state, when, current_app.config["CHECKIN_MINUTES"]
    )
    open_id = db.session.scalar(
        sa.select(Attempt.id).where(
            Attempt.physician_id == physician.id,
            Attempt.paper_id == paper_id,
            Attempt.status == AttemptStatus.IN_PROGRESS,
        )
    )
    gate = entry(physician, paper_id, open_id)
    if state is not None and (state.can_start or checking_in) and gate.step:
        return redirect(gate.step)
    if request.method == "POST":
        form = form_model(PrepareForm)
        try:
            attempt = ops.start_attempt(
                physician,
                paper_id,
                now=now(),
                rules_acknowledged=form.rules,
                entry=gate,
                allowance_cap=current_app.config["MAX_ALLOWANCE_MINUTES"],
            )
        except Refused as exc:
            flash(gettext(exc.message, **exc.values), "error")
            raise uow.Discard(
                lambda: redirect(url_for("attempts.prepare", paper_id=paper_id))
            ) from None
        return redirect(url_for("attempts.exam", attempt_id=attempt.id))
    minutes = None
    cap = current_app.config["MAX_ALLOWANCE_MINUTES"]
    if state is not None and state.window is not None and not checking_in:
        minutes = int(
            ops.time_available(physician, paper, state.window, now(), cap).total_seconds() // 60
        )
    return render_template(
        "attempts/prepare.html",
        paper=paper,
        state=state,
        step=4,
        minutes=minutes,
        checking_in=checking_in,
        opens_in=(state.window.opens_at - when).total_seconds()
        if checking_in and state is not None and state.window is not None
        else None,
        start_within=current_app.config["ENTRY_VALID_MINUTES"]
        - current_app.config["CHECKIN_MINUTES"],
        overridden=gate.override_id is not None,
        full_minutes=ops.full_minutes(physician, paper, cap),
        questions=sum(section.count for section in paper.sections),
    )


@bp.get("/exam/<int:attempt_id>")
@physician_required
def exam(attempt_id: int) -> Any:
    physician = logged_in_physician()
    # With its paper, whose name the page shows: one statement, not two.
    attempt = db.session.get(Attempt, attempt_id, options=[orm.joinedload(Attempt.paper)])
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
    # Another device (no verification of its own for this attempt): face verification first.
    gate = entry(physician, attempt.paper_id, attempt.id)
    if gate.step:
        return redirect(gate.step)
    ops.link_entry(gate, attempt)
    return render_template("attempts/exam.html", attempt=attempt, text=exam_text())


# The exam page's words for its script (static/js/exam.js); ``{n}`` and ``{time}`` are
# filled there.
EXAM_TEXT = {
    "saved": N_("已保存"),
    "saving": N_("保存中…"),
    "offline": N_("离线，答案已暂存本机"),
    "busy": N_("服务器繁忙，答案已保存在本机，稍后自动重试"),
    "unanswered": N_("还有 {n} 道题未作答。"),
    "allAnswered": N_("所有题目均已作答。"),
    "true": N_("对"),
    "false": N_("错"),
    "timeUp": N_("考试时间到，正在交卷…"),
    "fiveMinutes": N_("距考试结束还有5分钟"),
    "submitting": N_("正在交卷…"),
    "refused": N_("答案未保存："),
    "loggedOut": N_("登录已失效：答案已保存在本机，请重新登录后继续答题"),
    "sentAt": N_("发送时间：{time}"),
    "points": N_("（{n}分）"),
    "pointsEach": N_("（每小题{n}分）"),
}
_EXAM_TEXT = "attempts.exam_text"  # app.extensions: per language, translated once


def exam_text() -> dict[str, Any]:
    """``EXAM_TEXT`` and the question types' labels (the API gives them in Chinese) in the
    page's language, translated once per language (the catalogs do not change while the
    process runs)."""
    lang = current_language()
    kept: dict[str, dict[str, Any]] = current_app.extensions.setdefault(_EXAM_TEXT, {})
    text = kept.get(lang)
    if text is None:
        text = {key: gettext(msgid) for key, msgid in EXAM_TEXT.items()}
        text["types"] = {code: gettext(kind.label_zh) for code, kind in QUESTION_TYPES.items()}
        kept[lang] = text
    return text


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
