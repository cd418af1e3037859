"""The agency's bank pages and API: import (errors as a table), browse, export."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from examsvc import offload, uow
from examsvc.accounts.auth import admin_required, current_user, roles_required
from examsvc.audit.operations import record
from examsvc.banks import operations as ops
from examsvc.banks.models import QuestionBank
from examsvc.banks.schemas import LABELS, BankFields, StudyForm
from examsvc.clock import now
from examsvc.enums import PracticeCategory, Role
from examsvc.errors import Invalid
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.web.errors import ApiError, form_data, form_model, refuse_form, validate_form
from examsvc.web.i18n import gettext as _
from question_banks import BankImportError, parse_bank
from question_banks.export import export_xlsx
from question_banks.template import build_template
from question_banks.types import QUESTION_TYPES

bp = Blueprint("banks", __name__)
readers = roles_required(Role.ADMIN, Role.VIEWER)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _banks() -> list[dict[str, Any]]:
    out = []
    for bank in db.session.scalars(sa.select(QuestionBank).order_by(QuestionBank.code)):
        version = ops.current_version(bank.id)
        out.append(
            {
                "id": bank.id,
                "code": bank.code,
                "name": bank.name,
                "kind": bank.kind.value,
                "practice_category": bank.practice_category.value
                if bank.practice_category
                else None,
                "version": version.number if version else None,
                "questions": version.question_count if version else 0,
                # Not "items": in a template, b.items is the dict's method.
                "item_count": version.item_count if version else 0,
                "open_for_study": bank.open_for_study,
                "imported_at": version.imported_at.isoformat() if version else None,
            }
        )
    return out


def _import(files: Any, form: Any) -> tuple[Any, Any]:
    """Parse and store an uploaded bank: (version, None) or (None, problems). Caller commits."""
    upload = files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "missing_file", N_("请选择题库文件"))
    data = upload.read()
    try:
        parsed = offload.process_call(parse_bank, data, upload.filename)
    except BankImportError as exc:
        return None, exc.problems
    meta = parsed.meta
    fields = form_data(BankFields, form)
    if meta is not None:  # the form's fields first, then the file's own
        given = {
            "code": meta.code,
            "name": meta.name,
            "kind": meta.kind,
            "category": meta.practice_category,
        }
        fields = {k: v for k, v in given.items() if v} | fields
    bank = validate_form(BankFields, fields)
    info = ops.BankInfo(bank.code, bank.name, bank.kind, bank.category)
    user = current_user()
    version = ops.import_bank(  # a BankConflict is answered by the one error mapping
        parsed,
        info,
        filename=upload.filename,
        data=data,
        actor_id=user.id if user else None,
        now=now(),
    )
    record(
        "bank.import",
        "bank",
        bank.code,
        actor_id=user.id if user else None,
        now=now(),
        version=version.number,
        filename=upload.filename,
        questions=version.question_count,
    )
    return version, None


@bp.get("/admin/banks")
@readers
def index() -> str:
    return render_template("banks/index.html", banks=_banks(), categories=list(PracticeCategory))


@bp.post("/admin/banks/import")
@admin_required
def import_page() -> Any:
    try:
        version, problems = _import(request.files, request.form)
    except Invalid as exc:  # a field missing in the form and in the file
        refuse_form(exc, "bank", LABELS, form_data(BankFields))
        raise uow.Discard(lambda: redirect(url_for("banks.index"))) from None
    if problems is not None:
        found = problems
        raise uow.Discard(
            lambda: (
                render_template(
                    "banks/import_errors.html",
                    problems=found,
                    filename=request.files["file"].filename,
                ),
                422,
            )
        )
    flash(
        _("导入成功：第 {n} 版，共 {q} 题", n=version.number, q=version.question_count), "success"
    )
    return redirect(url_for("banks.detail", bank_id=version.bank_id))


@bp.get("/admin/banks/template.xlsx")
@readers
def template() -> Response:
    return Response(
        offload.process_call(build_template),
        mimetype=XLSX,
        headers={"Content-Disposition": "attachment; filename=question-bank-template.xlsx"},
    )


@bp.get("/admin/banks/<int:bank_id>")
@readers
def detail(bank_id: int) -> str:
    bank = db.get_or_404(QuestionBank, bank_id)
    version = ops.current_version(bank.id)
    page = max(1, request.args.get("page", 1, type=int))
    total, rows = 0, list[Any]()
    if version is not None:
        total, rows = ops.search(
            version.id,
            text=request.args.get("q", "").strip(),
            qtype=request.args.get("type", ""),
            tag=request.args.get("tag", ""),
            difficulty=request.args.get("difficulty", type=int),
            page=page,
        )
    tags = sorted({tag for (_, tag) in ops.counts(version.id)}) if version else []
    return render_template(
        "banks/detail.html",
        bank=bank,
        version=version,
        rows=rows,
        total=total,
        page=page,
        types=QUESTION_TYPES,
        tags=tags,
        args=request.args,
        used_by=ops.papers_drawing_from(bank.id),
    )


@bp.post("/admin/banks/<int:bank_id>/study")
@admin_required
def set_study(bank_id: int) -> BaseResponse:
    bank = db.get_or_404(QuestionBank, bank_id)
    open_ = form_model(StudyForm).open
    user = current_user()
    ops.set_open_for_study(bank, open_, actor_id=user.id if user else None, now=now())
    flash(_("已开放学习") if open_ else _("已关闭学习"), "success")
    return redirect(url_for("banks.detail", bank_id=bank.id))


@bp.get("/admin/banks/<int:bank_id>/export.xlsx")
@admin_required  # the export holds every answer and explanation
def export(bank_id: int) -> BaseResponse:
    bank = db.get_or_404(QuestionBank, bank_id)
    version = ops.current_version(bank.id)
    if version is None:
        return redirect(url_for("banks.detail", bank_id=bank_id))
    return Response(
        offload.process_call(export_xlsx, None, ops.version_questions(version.id)),
        mimetype=XLSX,
        headers={"Content-Disposition": f"attachment; filename={bank.code}-v{version.number}.xlsx"},
    )


@bp.get("/api/v1/admin/banks")
@readers
def api_list() -> dict[str, Any]:
    return {"banks": _banks()}


@bp.post("/api/v1/admin/banks/import")
@admin_required
def api_import() -> tuple[dict[str, Any], int]:
    version, problems = _import(request.files, request.form)
    if problems is not None:
        raise ApiError(
            422,
            "invalid_bank",
            N_("题库文件有错误，未导入任何题目"),
            [p.as_dict() for p in problems],
        )
    return {
        "bank_id": version.bank_id,
        "version": version.number,
        "questions": version.question_count,
    }, 201
