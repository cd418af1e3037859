"""The administrators' overrides for one physician (个人特殊安排), granted and revoked from the
roster's page of that physician (``roster.detail``, which shows ``queries.override_rows``)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from examsvc import uow
from examsvc.accounts.auth import admin_required, current_user
from examsvc.attempts import operations as ops
from examsvc.attempts.models import PaperOverride
from examsvc.attempts.schemas import (
    OVERRIDE_FIELD_LABELS,
    OVERRIDE_FORMS,
    ExtraAttemptsForm,
    ExtraTimeForm,
    PersonalWindowForm,
)
from examsvc.clock import now
from examsvc.enums import OverrideKind
from examsvc.errors import DomainError
from examsvc.extensions import db
from examsvc.papers.models import Paper
from examsvc.roster.models import Physician
from examsvc.web.errors import form_data, form_model, refuse_form
from examsvc.web.i18n import gettext as _

bp = Blueprint("overrides", __name__)


def _back(physician_id: int) -> BaseResponse:
    return redirect(url_for("roster.detail", physician_id=physician_id) + "#overrides")


@bp.post("/admin/roster/<int:physician_id>/overrides/<kind>")
@admin_required
def grant(physician_id: int, kind: str) -> BaseResponse:
    physician = db.get_or_404(Physician, physician_id)
    model = OVERRIDE_FORMS.get(kind)
    if model is None:
        abort(404)
    user = current_user()
    try:
        form = form_model(model)
        paper = db.get_or_404(Paper, form.paper_id)
        ops.grant_override(
            physician,
            paper,
            OverrideKind(kind),
            reason=form.reason,
            actor_id=user.id if user else None,
            now=now(),
            allowance_cap=current_app.config["MAX_ALLOWANCE_MINUTES"],
            attempts=form.attempts if isinstance(form, ExtraAttemptsForm) else None,
            minutes=form.minutes if isinstance(form, ExtraTimeForm) else None,
            window=(form.round, form.opens_at, form.closes_at)
            if isinstance(form, PersonalWindowForm)
            else None,
        )
    except DomainError as exc:  # a bad field, or a decision the rules refuse
        refuse_form(exc, f"override:{kind}", OVERRIDE_FIELD_LABELS, form_data(model))
        raise uow.Discard(lambda: _back(physician_id)) from None
    flash(_("个人特殊安排已保存"), "success")
    return _back(physician_id)


@bp.post("/admin/roster/<int:physician_id>/overrides/<int:override_id>/revoke")
@admin_required
def revoke(physician_id: int, override_id: int) -> BaseResponse:
    override = db.get_or_404(PaperOverride, override_id)
    if override.physician_id != physician_id:
        abort(404)
    user = current_user()
    try:
        ops.revoke_override(override, actor_id=user.id if user else None, now=now())
    except DomainError as exc:
        flash(_(exc.message), "error")
        raise uow.Discard(lambda: _back(physician_id)) from None
    flash(_("个人特殊安排已撤销"), "success")
    return _back(physician_id)
