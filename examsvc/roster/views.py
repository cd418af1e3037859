"""The agency's roster pages and API (administrators; viewers read)."""

from __future__ import annotations

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

from examsvc import offload, uow
from examsvc.accounts.auth import admin_required, current_user, roles_required
from examsvc.accounts.ids import mask
from examsvc.audit.operations import record
from examsvc.clock import now
from examsvc.enums import PhotoStatus, Role
from examsvc.errors import Invalid
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.roster import files, operations, photos
from examsvc.roster.jobs import spawn_pull
from examsvc.roster.models import Physician, RosterProblem
from examsvc.roster.queries import attempt_records, current_cycle, overrides, progress
from examsvc.roster.schemas import ALLOWANCE_LABELS, AllowanceForm
from examsvc.web.errors import ApiError, form_data, form_model, refuse_form
from examsvc.web.i18n import gettext as _

bp = Blueprint("roster", __name__)
readers = roles_required(Role.ADMIN, Role.VIEWER)
PAGE = 50


def _filtered(args: Any) -> sa.Select[Any]:
    cycle = current_cycle()
    query = sa.select(Physician).where(Physician.cycle_id == (cycle.id if cycle else -1))
    text = (args.get("q") or "").strip()
    if text:
        like = f"%{text}%"
        query = query.where(
            sa.or_(
                Physician.name.like(like),
                Physician.institution_name.like(like),
                Physician.registration_id == text,
                Physician.id_key == operations._key_or_stem(text),
            )
        )
    for name, column in (
        ("status", Physician.status),
        ("procedure", Physician.procedure),
        ("category", Physician.practice_category),
        ("photo", Physician.photo_status),
    ):
        if args.get(name):  # a value the column cannot hold (a hand-made URL) keeps no one
            known = args[name] in column.type.enums
            query = query.where(column == args[name] if known else sa.false())
    return query


def _page(args: Any) -> tuple[int, int, list[Physician]]:
    """The page asked for, the number of physicians the filters keep, and that page of them."""
    page = max(1, args.get("page", 1, type=int))
    query = _filtered(args)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(Physician.registration_id).limit(PAGE).offset((page - 1) * PAGE)
    ).all()
    return page, total, list(rows)


def _row(p: Physician, with_progress: bool = False) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if with_progress:
        state = progress(p, now())
        extra = {
            "current_task": state.task,
            "tone": state.tone,
            "papers": [{"name": x.name, "state": x.label} for x in state.papers],
        }
    return extra | {
        "id": p.id,
        "registration_id": p.registration_id,
        "name": p.name,
        "masked_id": mask(p.id_number),
        "institution": p.institution_name,
        "department": p.department,
        "status": p.status.value,
        "procedure": p.procedure.value,
        "practice_category": p.practice_category.value,
        "physician_level": p.physician_level.value,
        "photo_status": p.photo_status.value,
        "photo_problem": p.photo_problem_text,
        "exemptions": [
            k
            for k, v in (
                ("humanities", p.exempt_humanities),
                ("professional", p.exempt_professional),
            )
            if v
        ],
    }


@bp.get("/admin/roster")
@readers
def index() -> str:
    page, total, rows = _page(request.args)
    cycle = current_cycle()
    problems = db.session.scalars(
        sa.select(RosterProblem)
        .where(RosterProblem.cycle_id == (cycle.id if cycle else -1))
        .order_by(RosterProblem.registration_id)
    ).all()
    photo_failed = db.session.scalars(
        sa.select(Physician)
        .where(
            Physician.cycle_id == (cycle.id if cycle else -1),
            Physician.photo_status.in_([PhotoStatus.FAILED, PhotoStatus.MISSING]),
        )
        .order_by(Physician.registration_id)
        .limit(200)
    ).all()
    return render_template(
        "roster/index.html",
        rows=[_row(p, with_progress=True) for p in rows],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        cycle=cycle,
        problems=problems,
        photo_failed=[_row(p) for p in photo_failed],
        args=request.args,
        can_pull=bool(current_app.config["REGISTRY_BASE_URL"]),
    )


@bp.post("/admin/roster/pull")
@admin_required
def pull_now() -> BaseResponse:
    if not current_app.config["REGISTRY_BASE_URL"]:
        flash(_("未配置登记系统接口，请使用名单文件导入"), "error")
    else:
        spawn_pull(current_app._get_current_object())  # type: ignore[attr-defined]
        flash(_("已开始同步，稍后刷新本页查看结果"), "success")
    return redirect(url_for("roster.index"))


def _import_upload(upload: Any) -> tuple[int, operations.PullReport]:
    """Store an uploaded roster file (all rows or none) and audit it; the caller commits.

    Raises ApiError when there is no cycle or file, and RosterFileError for a bad file.
    """
    cycle = current_cycle()
    if cycle is None:
        raise ApiError(409, "no_cycle", N_("请先创建考核周期"))
    if upload is None or not upload.filename:
        raise ApiError(400, "missing_file", N_("请选择名单文件"))
    items = offload.process_call(files.parse, upload.read(), upload.filename)
    report = operations.import_items(cycle, items, now=now())
    user = current_user()
    record(
        "roster.import",
        "cycle",
        cycle.id,
        actor_id=user.id if user else None,
        now=now(),
        filename=upload.filename,
        rows=len(items),
    )
    return len(items), report


@bp.post("/admin/roster/import")
@admin_required
def import_file() -> Any:
    upload = request.files.get("file")
    try:
        report = _import_upload(upload)[1]
    except files.RosterFileError as exc:
        problems = exc.problems
        raise uow.Discard(
            lambda: (
                render_template(
                    "roster/import_errors.html",
                    problems=problems,
                    filename=upload.filename if upload else "",
                ),
                422,
            )
        ) from None
    except ApiError as exc:
        flash(_(exc.message), "error")
        raise uow.Discard(lambda: redirect(url_for("roster.index"))) from None
    flash(_("导入成功：") + _(report.summary()), "success")
    return redirect(url_for("roster.index"))


@bp.get("/admin/roster/template.xlsx")
@readers
def template() -> Response:
    return Response(
        offload.process_call(files.template),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=roster-template.xlsx"},
    )


@bp.get("/admin/roster/<int:physician_id>")
@readers
def detail(physician_id: int) -> str:
    """A physician's page: administrators change it, viewers read it."""
    physician = db.get_or_404(Physician, physician_id)
    return render_template(
        "roster/detail.html",
        p=physician,
        row=_row(physician),
        progress=progress(physician, now()),
        attempts=attempt_records(physician),
        overrides=overrides(physician, now()),
        allowance_cap=current_app.config["MAX_ALLOWANCE_MINUTES"],
    )


@bp.get("/admin/roster/<int:physician_id>/photo")
@admin_required
def photo(physician_id: int) -> Response:
    physician = db.get_or_404(Physician, physician_id)
    data = (
        photos.load(current_app.config["DATA_DIR"], physician.photo_sha256 or "")
        if physician.photo_sha256
        else None
    )
    if data is None:
        raise ApiError(404, "no_photo", N_("没有照片"))
    response = Response(data, mimetype="image/png" if data.startswith(b"\x89PNG") else "image/jpeg")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/admin/roster/<int:physician_id>/allowance")
@admin_required
def allowance(physician_id: int) -> BaseResponse:
    physician = db.get_or_404(Physician, physician_id)
    try:
        minutes = form_model(AllowanceForm).minutes
        operations.check_allowance(minutes, current_app.config["MAX_ALLOWANCE_MINUTES"])
    except Invalid as exc:
        refuse_form(exc, "allowance", ALLOWANCE_LABELS, form_data(AllowanceForm))
    else:
        user = current_user()
        physician.time_allowance_minutes = minutes
        record(
            "roster.allowance",
            "physician",
            physician.id,
            actor_id=user.id if user else None,
            now=now(),
            minutes=minutes,
        )
        flash(_("已保存"), "success")
    return redirect(url_for("roster.detail", physician_id=physician_id))


# --- JSON API -------------------------------------------------------------------------


@bp.get("/api/v1/admin/roster")
@readers
def api_list() -> dict[str, Any]:
    page, total, rows = _page(request.args)
    cycle = current_cycle()
    return {
        "cycle": None
        if cycle is None
        else {
            "code": cycle.code,
            "name": cycle.name,
            "last_pull_at": cycle.last_pull_at,
            "last_pull_ok": cycle.last_pull_ok,
            "last_pull_summary": cycle.last_pull_summary,
            "last_pull_error": cycle.last_pull_error,
        },
        "total": total,
        "page": page,
        "items": [_row(p, with_progress=True) for p in rows],
    }


@bp.post("/api/v1/admin/roster/pull")
@admin_required
def api_pull() -> tuple[dict[str, Any], int]:
    if not current_app.config["REGISTRY_BASE_URL"]:
        raise ApiError(409, "no_registry", N_("未配置登记系统接口，请使用名单文件导入"))
    process = spawn_pull(current_app._get_current_object())  # type: ignore[attr-defined]
    return {"started": True, "pid": process.pid}, 202


@bp.post("/api/v1/admin/roster/import")
@admin_required
def api_import() -> tuple[dict[str, Any], int]:
    # A RosterFileError is answered by the one error mapping (422, a detail per problem).
    imported, report = _import_upload(request.files.get("file"))
    return {"imported": imported, "summary": report.summary()}, 200
