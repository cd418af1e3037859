"""The result notice (考核结果通知书): the physician's PDF, once the cycle's result is 合格;
and the agency's reconciliation of the write-back (结果回传): counts, rows, sending again,
the comparison with the registration system, the export (administrators; viewers read)."""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from examsvc import offload, uow
from examsvc.accounts.auth import admin_required, current_user, physician_required, roles_required
from examsvc.accounts.ids import mask
from examsvc.attempts.pages import score
from examsvc.attempts.queries import passed_papers
from examsvc.audit.operations import record
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.results import export, queries, reconcile
from examsvc.results.models import DeliveryStatus, ResultDelivery
from examsvc.results.notice import Notice, NoticePaper, render
from examsvc.results.words import (
    COMPARISON_LABELS,
    DELIVERY_LABELS,
    FIELD_LABELS,
    ROUND_LABELS,
    VERDICT_LABELS,
    refusal_reason,
    registry_answer,
)
from examsvc.roster import photos
from examsvc.roster.queries import logged_in_physician
from examsvc.web.i18n import gettext as _

bp = Blueprint("results", __name__)
readers = roles_required(Role.ADMIN, Role.VIEWER)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


# --- the agency's reconciliation (结果回传) -----------------------------------------------


def _row(d: ResultDelivery) -> dict[str, Any]:
    p = d.physician
    return {
        "id": d.id,
        "name": p.name,
        "registration_id": p.registration_id,
        "masked_id": mask(p.id_number),
        "institution": p.institution_name,
        "verdict": d.verdict.value,
        "verdict_label": VERDICT_LABELS[d.verdict.value],
        "round_label": ROUND_LABELS[d.round.value],
        "status": d.status.value,
        "status_label": DELIVERY_LABELS[d.status.value],
        "tries": d.tries,
        "next_try_at": d.next_try_at,
        "delivered_at": d.delivered_at,
        "http_status": d.last_http_status,
        "reason": refusal_reason(d.last_http_status) if d.status == DeliveryStatus.REFUSED else "",
        "answer": registry_answer(d.last_error),
        "resendable": d.status in reconcile.RESENDABLE,
    }


def _back() -> str:
    """The page again, with the filter and page the request came from."""
    kept: dict[str, Any] = {
        k: v
        for k, v in request.args.items()
        if k in ("cycle", "status", "institution", "window", "page")
    }
    return url_for("results.reconciliation", **kept)


def _page(comparisons: dict[int, reconcile.Comparison] | None = None) -> str:
    f = queries.read_filter(request.args)
    number = max(1, request.args.get("page", 1, type=int))
    total, rows = queries.page(f, number)
    args = f.args()
    others = {k: v for k, v in args.items() if k != "status"}
    return render_template(
        "results/reconcile.html",
        f=f,
        args=args,
        count_links={
            s.value: url_for("results.reconciliation", **others, status=s.value)
            for s in DeliveryStatus
        },
        round_labels=ROUND_LABELS,
        counts=queries.counts(f),
        rows=[_row(d) for d in rows],
        total=total,
        page=number,
        pages=max(1, -(-total // queries.PAGE)),
        cycles=queries.cycles(),
        institutions=queries.institutions(f.cycle),
        windows=queries.windows(f.cycle),
        comparisons=comparisons,
        delivery_labels=DELIVERY_LABELS,
        comparison_labels=COMPARISON_LABELS,
        field_labels=FIELD_LABELS,
        can_compare=reconcile.client_of(current_app.config) is not None,
    )


@bp.get("/admin/results")
@readers
def reconciliation() -> str:
    """结果回传: what was delivered, what waits, what the registry refused."""
    return _page()


@bp.get("/admin/results/compare")
@admin_required
def compare() -> Any:
    """The page, each row compared with the registration system's copy."""
    client = reconcile.client_of(current_app.config)
    if client is None:
        flash(_("未配置登记系统接口，无法核对"), "error")
        return redirect(_back())
    f = queries.read_filter(request.args)
    rows = queries.page(f, max(1, request.args.get("page", 1, type=int)))[1]
    sent = reconcile.sent_of(rows)
    uow.end_reads()  # no transaction held while the registry answers
    return _page(reconcile.compare(client, sent))


def _audit(action: str, obj_type: str, obj_id: object | None, **detail: Any) -> None:
    user = current_user()
    record(action, obj_type, obj_id, actor_id=user.id if user else None, now=now(), **detail)


def _scope(f: queries.Filter) -> dict[str, Any]:
    """The filter's institution and exam window, for the audit log (the cycle is its object)."""
    return {k: v for k, v in f.args().items() if k in ("institution", "window")}


@bp.post("/admin/results/<int:delivery_id>/resend")
@admin_required
def resend(delivery_id: int) -> BaseResponse:
    delivery = db.get_or_404(ResultDelivery, delivery_id)
    was = delivery.status.value
    reconcile.resend(delivery, now=now())
    _audit(
        "results.resend",
        "result_delivery",
        delivery.id,
        physician=delivery.physician.registration_id,
        was=was,
    )
    flash(_("已重新加入回传队列，将立即发送"), "success")
    return redirect(_back())


@bp.post("/admin/results/resend-refused")
@admin_required
def resend_refused() -> BaseResponse:
    f = queries.read_filter(request.form)
    count = reconcile.resend_refused(queries.refused_ids(f), now=now())
    _audit(
        "results.resend_refused", "cycle", f.cycle.id if f.cycle else None, count=count, **_scope(f)
    )
    flash(_("已将 {n} 条被拒的结果重新加入回传队列", n=count), "success")
    return redirect(url_for("results.reconciliation", **f.args()))


def _export(fmt: str) -> Response:
    f = queries.read_filter(request.args)
    user = current_user()
    full_id = user is not None and user.role == Role.ADMIN
    rows = [export.row(d, full_id=full_id) for d in queries.current_results(f)]
    build = export.xlsx if fmt == "xlsx" else export.csv_bytes
    data = offload.process_call(build, rows)
    _audit(
        "results.export",
        "cycle",
        f.cycle.id if f.cycle else None,
        format=fmt,
        rows=len(rows),
        full_ids=full_id,
        **_scope(f),
    )
    code = re.sub(r"[^A-Za-z0-9_-]", "_", f.cycle.code) if f.cycle else "none"
    name = f"results-{code}.{fmt}"
    return Response(
        data,
        mimetype=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename={name}",
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/admin/results/export.xlsx")
@readers
def export_xlsx() -> Response:
    return _export("xlsx")


@bp.get("/admin/results/export.csv")
@readers
def export_csv() -> Response:
    return _export("csv")
