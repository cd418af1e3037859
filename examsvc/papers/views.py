"""The agency's paper editor, preview and exam windows, with their JSON API."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from examsvc import uow
from examsvc.accounts.auth import admin_required, current_user, roles_required
from examsvc.audit.operations import record
from examsvc.banks.models import QuestionBank
from examsvc.clock import now
from examsvc.enums import PhysicianLevel, PracticeCategory, Role
from examsvc.errors import DomainError, Invalid
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.papers import operations as ops
from examsvc.papers.models import (
    ExamWindow,
    Paper,
)
from examsvc.papers.queries import assigned_slots, cycle_windows, slots_of
from examsvc.papers.schemas import (
    NewWindowForm,
    PaperForm,
    PaperSpec,
    WindowChange,
    WindowChangeForm,
)
from examsvc.roster.queries import current_cycle
from examsvc.web.errors import (
    ApiError,
    form_data,
    form_model,
    parse_json,
    problems_of,
    refuse_form,
    validate_form,
)
from examsvc.web.i18n import gettext as _
from question_banks.types import QUESTION_TYPES

bp = Blueprint("papers", __name__)
readers = roles_required(Role.ADMIN, Role.VIEWER)
SECTION_ROWS = 8


def current_cycle_id() -> int:
    cycle = current_cycle()
    if cycle is None:
        raise ApiError(409, "no_cycle", N_("尚无考核周期：请先同步名单或导入名单文件"))
    return cycle.id


def _bad_field(field: str, message: str) -> ApiError:
    """A refused form or body field, in the one error shape (the page shows ``message``)."""
    return ApiError(
        422,
        "invalid",
        N_("提交的内容有误：{reason}"),
        [{"field": field, "message": message}],
        reason=message,
    )


def actor_id() -> int | None:
    user = current_user()
    return user.id if user else None


# The editor's words for each field, to say which one is wrong.
FIELD_LABELS = {
    "code": N_("试卷编号"),
    "name": N_("试卷名称"),
    "kind": N_("类型"),
    "duration_minutes": N_("时长（分钟）"),
    "pass_mark": N_("合格分数（满分100）"),
    "attempt_limit_simple": N_("简易程序可考次数"),
    "attempt_limit_general": N_("一般程序可考次数"),
    "prerequisite": N_("前置试卷（须先合格）"),
    "practice_categories": N_("执业类别"),
    "physician_levels": N_("医师级别"),
    "sections": N_("大题"),
    "title": N_("大题名称"),
    "bank": N_("题库"),
    "qtype": N_("题型"),
    "tags": N_("知识点"),
    "count": N_("题数"),
    "points_per_item": N_("每小题分值"),
}


def _spec_of(paper: Paper) -> dict[str, Any]:
    banks = {b.id: b.code for b in db.session.scalars(sa.select(QuestionBank))}
    return {
        "code": paper.code,
        "name": paper.name,
        "kind": paper.kind.value,
        "practice_categories": paper.practice_categories,
        "physician_levels": paper.physician_levels,
        "duration_minutes": paper.duration_minutes,
        "pass_mark": paper.pass_mark,
        "shuffle_questions": paper.shuffle_questions,
        "shuffle_options": paper.shuffle_options,
        "attempt_limit_simple": paper.attempt_limit_simple,
        "attempt_limit_general": paper.attempt_limit_general,
        "prerequisite": paper.prerequisite.code if paper.prerequisite else None,
        "sections": [
            {
                "title": s.title,
                "bank": banks.get(s.bank_id),
                "qtype": s.qtype,
                "tags": s.tags,
                "count": s.count,
                "points_per_item": s.points_per_item,
            }
            for s in paper.sections
        ],
    }


def _save(spec: PaperSpec) -> Paper:
    paper = ops.save_paper(current_cycle_id(), spec, now=now())
    record("paper.save", "paper", paper.id, actor_id=actor_id(), now=now(), code=paper.code)
    return paper


def _editor(raw: dict[str, Any] | None, problems: list[str], status: int = 200) -> tuple[str, int]:
    papers = db.session.scalars(
        sa.select(Paper).where(Paper.cycle_id == current_cycle_id()).order_by(Paper.code)
    ).all()
    banks = db.session.scalars(sa.select(QuestionBank).order_by(QuestionBank.code)).all()
    in_use = assigned_slots(current_cycle_id())
    return render_template(
        "papers/index.html",
        papers=papers,
        in_use=in_use,
        partly={p.id for p in papers if p.id in in_use and len(in_use[p.id]) < len(slots_of(p))},
        banks=banks,
        types=QUESTION_TYPES,
        raw=raw or {},
        problems=problems,
        rows=SECTION_ROWS,
        categories=list(PracticeCategory),
        levels=list(PhysicianLevel),
    ), status


@bp.get("/admin/papers")
@readers
def index() -> tuple[str, int]:
    paper_id = request.args.get("edit", type=int)
    paper = db.session.get(Paper, paper_id) if paper_id else None
    return _editor(_spec_of(paper) if paper else None, [])


@bp.post("/admin/papers")
@admin_required
def save() -> Any:
    raw = form_data(PaperForm)
    try:
        paper = _save(validate_form(PaperForm, raw))
    except Invalid as exc:  # bad fields, or a paper the banks cannot fill (PaperRefused)
        problems = problems_of(exc, FIELD_LABELS)
        # The form again as it was typed (an unticked shuffle stays unticked).
        typed = {"shuffle_questions": False, "shuffle_options": False, **raw}
        raise uow.Discard(lambda: _editor(typed, problems, 422)) from None
    flash(_("试卷已保存"), "success")
    return redirect(url_for("papers.preview_page", paper_id=paper.id))


def _assign(paper: Paper) -> list[Paper]:
    """设为当前使用, audited; for the page and the API."""
    replaced = ops.assign_paper(paper, now=now())
    record(
        "paper.assign",
        "paper",
        paper.id,
        actor_id=actor_id(),
        now=now(),
        code=paper.code,
        replaced=[p.code for p in replaced],
    )
    return replaced


@bp.post("/admin/papers/<int:paper_id>/assign")
@admin_required
def assign(paper_id: int) -> BaseResponse:
    """设为当前使用: from now on, physicians who have not started this kind sit this paper."""
    paper = db.get_or_404(Paper, paper_id)
    try:
        replaced = _assign(paper)
    except ops.AssignRefused as exc:
        flash(_(exc.message), "error")
        raise uow.Discard(lambda: redirect(url_for("papers.index"))) from None
    message = _("「{name}」已设为当前使用", name=paper.name)
    if replaced:
        message += _("；「{old}」不再用于尚未开始的医师", old="」「".join(p.name for p in replaced))
    flash(message, "success")
    return redirect(url_for("papers.index"))


@bp.get("/admin/papers/<int:paper_id>/preview")
@readers
def preview_page(paper_id: int) -> str:
    paper = db.get_or_404(Paper, paper_id)
    user = current_user()
    answers = request.args.get("answers") == "1" and user is not None and user.role == Role.ADMIN
    seed = request.args.get("seed", 1, type=int)
    return render_template(
        "papers/preview.html",
        paper=paper,
        questions=ops.preview(paper, seed, with_answers=answers),
        answers=answers,
        seed=seed,
    )


WINDOW_LABELS = {
    "paper_id": N_("试卷"),
    "round": N_("类型"),
    "opens_at": N_("开始"),
    "closes_at": N_("结束"),
    "attempt_limit": N_("补考可考次数"),
}


@bp.get("/admin/windows")
@readers
def windows() -> tuple[str, int]:
    return _windows_page()


def _windows_page(
    problems: list[str] | None = None, typed: dict[str, Any] | None = None, status: int = 200
) -> tuple[str, int]:
    rows = cycle_windows(current_cycle_id())
    running = {w.id: ops.running_attempts(w) for w in rows}
    papers = db.session.scalars(
        sa.select(Paper).where(Paper.cycle_id == current_cycle_id()).order_by(Paper.code)
    ).all()
    return render_template(
        "papers/windows.html",
        windows=rows,
        running=running,
        papers=papers,
        problems=problems or [],
        typed_window=typed or {},
    ), status


@bp.post("/admin/windows")
@admin_required
def add_window() -> BaseResponse:
    raw = form_data(NewWindowForm)
    try:
        form = validate_form(NewWindowForm, raw)
        paper = db.get_or_404(Paper, form.paper_id)
        window = ops.add_window(
            paper,
            round=form.round,
            opens_at=form.opens_at,
            closes_at=form.closes_at,
            attempt_limit=form.attempt_limit,
        )
    except DomainError as exc:  # a bad field, or the times in the wrong order
        problems = problems_of(exc, WINDOW_LABELS)
        raise uow.Discard(lambda: _windows_page(problems, raw, 422)) from None
    record(
        "window.add",
        "window",
        window.id,
        actor_id=actor_id(),
        now=now(),
        closes_at=window.closes_at.isoformat(),
        paper=paper.code,
        round=form.round.value,
        attempt_limit=window.attempt_limit,
    )
    flash(_("考试时间已添加"), "success")
    return redirect(url_for("papers.windows"))


@bp.post("/admin/windows/<int:window_id>")
@admin_required
def change_window(window_id: int) -> BaseResponse:
    window = db.get_or_404(ExamWindow, window_id)
    try:
        form = form_model(WindowChangeForm)
        ops.change_window(
            window,
            opens_at=form.opens_at,
            closes_at=form.closes_at,
            let_running_finish=form.let_running_finish,
            now=now(),
        )
        ops.set_attempt_limit(window, form.attempt_limit)
    except DomainError as exc:  # a bad field, or a change that would cut attempts short
        refuse_form(exc, f"window:{window_id}", WINDOW_LABELS, form_data(WindowChangeForm))
        raise uow.Discard(lambda: redirect(url_for("papers.windows"))) from None
    record(
        "window.change",
        "window",
        window.id,
        actor_id=actor_id(),
        now=now(),
        closes_at=window.closes_at.isoformat(),
        let_running_finish=form.let_running_finish,
        attempt_limit=window.attempt_limit,
    )
    flash(_("考试时间已修改"), "success")
    return redirect(url_for("papers.windows"))


# --- JSON API -------------------------------------------------------------------------


@bp.get("/api/v1/admin/papers")
@readers
def api_papers() -> dict[str, Any]:
    papers = db.session.scalars(
        sa.select(Paper).where(Paper.cycle_id == current_cycle_id()).order_by(Paper.code)
    )
    in_use = assigned_slots(current_cycle_id())
    return {
        "papers": [
            {
                "id": p.id,
                **_spec_of(p),
                "in_use": [
                    {"practice_category": c, "physician_level": v} for c, v in in_use.get(p.id, [])
                ],
            }
            for p in papers
        ]
    }


@bp.post("/api/v1/admin/papers")
@admin_required
def api_save_paper() -> tuple[dict[str, Any], int]:
    paper = _save(parse_json(PaperSpec))  # PaperRefused: the one error mapping answers it
    return {"id": paper.id, **_spec_of(paper)}, 201


@bp.post("/api/v1/admin/papers/<int:paper_id>/assign")
@admin_required
def api_assign(paper_id: int) -> dict[str, Any]:
    paper = db.get_or_404(Paper, paper_id)
    replaced = _assign(paper)  # an AssignRefused is answered by the one error mapping
    return {"id": paper.id, "code": paper.code, "replaced": [p.code for p in replaced]}


@bp.get("/api/v1/admin/papers/<int:paper_id>/preview")
@readers
def api_preview(paper_id: int) -> dict[str, Any]:
    paper = db.get_or_404(Paper, paper_id)
    return {"questions": ops.preview(paper, request.args.get("seed", 1, type=int))}


@bp.patch("/api/v1/admin/windows/<int:window_id>")
@admin_required
def api_change_window(window_id: int) -> dict[str, Any]:
    window = db.get_or_404(ExamWindow, window_id)
    body = request.get_json(silent=True)
    if body is not None and not isinstance(body, dict):
        raise _bad_field(
            "(body)", N_('请求内容须为 JSON 对象，例如 {"closes_at": "2026-05-20T17:00:00+08:00"}')
        )
    change = parse_json(WindowChange, body)
    closes = change.closes_at
    ops.change_window(  # a WindowChangeRefused is answered by the one error mapping
        window,
        opens_at=change.opens_at or window.opens_at,
        closes_at=closes,
        let_running_finish=change.let_running_finish,
        now=now(),
    )
    record(
        "window.change",
        "window",
        window.id,
        actor_id=actor_id(),
        now=now(),
        closes_at=closes.isoformat(),
    )
    return {
        "id": window.id,
        "opens_at": window.opens_at.isoformat(),
        "closes_at": window.closes_at.isoformat(),
    }
