"""The sites and sessions page (``/admin/sessions``): add a site or a session, assign its
invigilators and candidates."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from examsvc import uow
from examsvc.accounts.auth import admin_required, roles_required
from examsvc.accounts.models import User
from examsvc.audit.operations import record
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import DomainError
from examsvc.extensions import db
from examsvc.invigilation import operations as ops
from examsvc.invigilation.models import ExamSession, Site, session_candidates, session_invigilators
from examsvc.invigilation.schemas import (
    ASSIGN_LABELS,
    SESSION_LABELS,
    SITE_LABELS,
    AssignForm,
    SessionForm,
    SiteForm,
)
from examsvc.papers.models import ExamWindow, Paper
from examsvc.papers.queries import cycle_windows
from examsvc.papers.views import actor_id, current_cycle_id
from examsvc.web.errors import form_data, form_model, problems_of, refuse_form, validate_form
from examsvc.web.i18n import gettext as _

bp = Blueprint("invigilation", __name__)
readers = roles_required(Role.ADMIN, Role.VIEWER)


@bp.get("/admin/sessions")
@readers
def sessions() -> str:
    return _sessions_page()[0]


def _sessions_page(failed: dict[str, Any] | None = None, status: int = 200) -> tuple[str, int]:
    """The sessions page; ``failed`` keeps a refused form as it was sent, with its problems."""
    rows = db.session.scalars(
        sa.select(ExamSession)
        .join(ExamWindow)
        .join(Paper)
        .where(Paper.cycle_id == current_cycle_id())
        .order_by(ExamSession.id)
    ).all()
    invigilators = {
        s.id: db.session.scalars(
            sa.select(User.display_name)
            .join(session_invigilators, session_invigilators.c.user_id == User.id)
            .where(session_invigilators.c.session_id == s.id)
        ).all()
        for s in rows
    }
    candidates = {
        s.id: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(session_candidates)
            .where(session_candidates.c.session_id == s.id)
        )
        for s in rows
    }
    windows = cycle_windows(current_cycle_id())
    staff = db.session.scalars(
        sa.select(User)
        .where(User.role == Role.INVIGILATOR, User.active)
        .order_by(User.display_name)
    ).all()
    return render_template(
        "invigilation/sessions.html",
        sessions=rows,
        invigilators=invigilators,
        candidates=candidates,
        sites=db.session.scalars(sa.select(Site).order_by(Site.code)).all(),
        windows=windows,
        staff=staff,
        failed=failed or {},
    ), status


@bp.post("/admin/sites")
@admin_required
def add_site() -> BaseResponse:
    try:
        form = form_model(SiteForm)
        site = ops.create_site(form.code, form.name, form.address)
    except DomainError as exc:  # a bad field, or the code taken
        refuse_form(exc, "site", SITE_LABELS, form_data(SiteForm))
        raise uow.Discard(lambda: redirect(url_for("invigilation.sessions"))) from None
    record("site.create", "site", site.id, actor_id=actor_id(), now=now(), code=site.code)
    return redirect(url_for("invigilation.sessions"))


@bp.post("/admin/sessions")
@admin_required
def add_session() -> BaseResponse:
    try:
        form = form_model(SessionForm)
    except DomainError as exc:
        refuse_form(exc, "session", SESSION_LABELS, form_data(SessionForm))
        raise uow.Discard(lambda: redirect(url_for("invigilation.sessions"))) from None
    window = db.get_or_404(ExamWindow, form.window_id)
    site = db.get_or_404(Site, form.site_id) if form.site_id else None
    session = ops.create_session(window, form.name, site)
    record(
        "session.create", "session", session.id, actor_id=actor_id(), now=now(), window=window.id
    )
    return redirect(url_for("invigilation.sessions"))


@bp.post("/admin/sessions/<int:session_id>")
@admin_required
def update_session(session_id: int) -> Any:
    session = db.get_or_404(ExamSession, session_id)
    raw = form_data(AssignForm)
    text, chosen = raw.get("candidates", ""), raw.get("invigilators", [])
    try:
        form = validate_form(AssignForm, raw)
        ops.assign_invigilators(session, form.invigilators)
        added = ops.assign_candidates(session, form.candidates.splitlines())
    except DomainError as exc:  # CandidatesRefused names each line; the rest, the invigilators
        problems = (
            exc.problems
            if isinstance(exc, ops.CandidatesRefused)
            else [ops.LineProblem(0, "", p) for p in problems_of(exc, ASSIGN_LABELS)]
        )
        failed = {"session_id": session_id, "text": text, "invigilators": chosen}
        raise uow.Discard(lambda: _sessions_page(failed | {"problems": problems}, 422)) from None
    record(
        "session.assign",
        "session",
        session.id,
        actor_id=actor_id(),
        now=now(),
        added_candidates=added,
    )
    flash(_("已保存，新增考生 {n} 人", n=added), "success")
    return redirect(url_for("invigilation.sessions"))
