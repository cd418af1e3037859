"""The sites and sessions page (``/admin/sessions``): add a site or a session, assign its
invigilators and candidates. The invigilators' pages (``/invigilate``): their sessions, a
session's live wall, a candidate's timeline, the evidence images and the actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from examsvc import uow
from examsvc.accounts.auth import admin_required, current_user, roles_required
from examsvc.accounts.ids import mask
from examsvc.accounts.models import User
from examsvc.audit.operations import record
from examsvc.camera.models import EntryCheck, Snapshot
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import DomainError, Invalid, Refused
from examsvc.extensions import db
from examsvc.invigilation import evidence, queries, words
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
from examsvc.marks import N_
from examsvc.papers.models import ExamWindow, Paper
from examsvc.papers.queries import cycle_windows
from examsvc.papers.views import actor_id, current_cycle_id
from examsvc.roster import photos
from examsvc.roster.models import Physician
from examsvc.web.errors import (
    ApiError,
    form_data,
    form_model,
    problems_of,
    refuse_form,
    validate_form,
)
from examsvc.web.i18n import gettext as _
from proctoring.frames import sniff

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


# --- the invigilators' wall, the timeline, the evidence and the actions ---------------------

watchers = roles_required(Role.INVIGILATOR, Role.ADMIN)
MIMETYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def _user() -> User:
    user = current_user()
    assert user is not None  # the role check ran
    return user


@bp.get("/invigilate")
@watchers
def my_sessions() -> str:
    return render_template("invigilation/mine.html", sessions=queries.watched_sessions(_user()))


@bp.get("/invigilate/sessions/<int:session_id>")
@watchers
def wall(session_id: int) -> str:
    session = queries.watched_session(_user(), session_id)
    return render_template(
        "invigilation/wall.html",
        session=session,
        cards=[c.as_dict() for c in queries.cards(session, now())],
        labels=queries.labels(),
    )


@bp.get("/invigilate/attempts/<int:attempt_id>")
@watchers
def timeline(attempt_id: int) -> str:
    user = _user()
    attempt = queries.watched_attempt(user, attempt_id)
    ops.record_view(attempt, user, now())
    return render_template(
        "invigilation/timeline.html",
        t=queries.timeline(attempt),
        masked_id=mask(attempt.physician.id_number),
        token=evidence.token,
        words=words,
        engine_flags=_engine_flags,
        measurements=_measurements,
    )


def _engine_flags(snapshot: Snapshot) -> list[str]:
    """The engine's findings on a snapshot, in words (codes without words are left out)."""
    return [
        _(words.ENGINE_FLAG_LABELS[c])
        for c in snapshot.flags or []
        if c in words.ENGINE_FLAG_LABELS
    ]


def _measurements(snapshot: Snapshot) -> list[str]:
    """``人脸数 1``, ``与入场照片的差异 0.38`` …: the measurements a person can read."""
    values = dict(snapshot.measurements or {})
    if snapshot.distance is not None:
        values["distance"] = f"{snapshot.distance:.2f}"
    return [
        f"{_(label)} {values[key]}"
        for key, label in words.MEASURE_LABELS.items()
        if values.get(key) is not None
    ]


@bp.get("/invigilate/evidence/<token>")
@watchers
def evidence_image(token: str) -> Response:
    """A snapshot, an entry frame or a registration photo: for a valid token *and* a viewer
    who watches that candidate, never cached."""
    named = evidence.read(token)
    if named is None:
        raise ApiError(403, "link_expired", N_("图片链接已过期，请刷新页面"))
    kind, object_id, index = named
    user = _user()
    data_dir = Path(current_app.config["DATA_DIR"])
    data: bytes | None = None
    if kind == "snapshot":
        snapshot = db.get_or_404(Snapshot, object_id)
        queries.watched_attempt(user, snapshot.attempt_id)
        data = _read(data_dir, snapshot.path)
    elif kind == "frame":
        check = db.get_or_404(EntryCheck, object_id)
        if check.attempt_id is not None:
            queries.watched_attempt(user, check.attempt_id)
        elif not queries.watches_physician(user, check.physician_id, check.paper_id):
            raise ApiError(403, "forbidden", N_("您不是该考生所在场次的监考人员"))
        frames = check.frames or []
        data = _read(data_dir, frames[index] if 0 <= index < len(frames) else None)
    else:
        physician = db.get_or_404(Physician, object_id)
        if not queries.watches_physician(user, physician.id, None):
            raise ApiError(403, "forbidden", N_("您不是该考生所在场次的监考人员"))
        data = photos.load(data_dir, physician.photo_sha256) if physician.photo_sha256 else None
    if data is None:
        raise ApiError(404, "purged", N_("图片已按保留期限删除"))
    response = Response(data, mimetype=MIMETYPES.get(sniff(data) or "", "application/octet-stream"))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _read(data_dir: Path, relative: str | None) -> bytes | None:
    """A file under DATA_DIR by its stored relative path (None: purged); never outside it."""
    if not relative:
        return None
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path.read_bytes()


def _back(attempt_id: int) -> BaseResponse:
    return redirect(url_for("invigilation.timeline", attempt_id=attempt_id))


def _refused(attempt_id: int, exc: DomainError) -> uow.Discard:
    def answer() -> BaseResponse:
        flash(_(exc.message, **exc.values), "error")
        return _back(attempt_id)

    return uow.Discard(answer)


@bp.post("/invigilate/attempts/<int:attempt_id>/warning")
@watchers
def warn(attempt_id: int) -> BaseResponse:
    user = _user()
    attempt = queries.watched_attempt(user, attempt_id)
    try:
        ops.send_warning(attempt, user, request.form.get("message", ""), now())
    except (Invalid, Refused) as exc:
        raise _refused(attempt_id, exc) from None
    flash(_("提醒已发送"), "success")
    return _back(attempt_id)


@bp.post("/invigilate/attempts/<int:attempt_id>/void")
@watchers
def void(attempt_id: int) -> BaseResponse:
    user = _user()
    attempt = queries.watched_attempt(user, attempt_id)
    try:
        ops.void_for_violation(attempt, user, request.form.get("reason", ""), now())
    except (Invalid, Refused) as exc:
        raise _refused(attempt_id, exc) from None
    flash(_("该考生本次测评已作废"), "success")
    return _back(attempt_id)


@bp.post("/invigilate/snapshots/<int:snapshot_id>/review")
@watchers
def review_snapshot(snapshot_id: int) -> BaseResponse:
    user = _user()
    snapshot = db.get_or_404(Snapshot, snapshot_id)
    queries.watched_attempt(user, snapshot.attempt_id)
    ops.review_snapshot(snapshot, user, request.form.get("note", ""), now())
    flash(_("已标记为已复核"), "success")
    return _back(snapshot.attempt_id)


@bp.post("/invigilate/entry-checks/<int:check_id>/review/<int:attempt_id>")
@watchers
def review_entry(check_id: int, attempt_id: int) -> BaseResponse:
    user = _user()
    attempt = queries.watched_attempt(user, attempt_id)
    check = db.get_or_404(EntryCheck, check_id)
    if check.physician_id != attempt.physician_id:
        raise ApiError(404, "not_found", N_("没有找到该核验记录"))
    try:
        ops.review_entry(
            check, user, request.form.get("verdict", ""), request.form.get("note", ""), now()
        )
    except Invalid as exc:
        raise _refused(attempt_id, exc) from None
    flash(_("复核结论已保存"), "success")
    return _back(attempt_id)
