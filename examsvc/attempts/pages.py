"""The candidate's pages."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, render_template

from examsvc.accounts.auth import current_user, physician_required
from examsvc.accounts.ids import mask
from examsvc.enums import PaperKind, Procedure, RegistrationStatus
from examsvc.extensions import db
from examsvc.papers.models import Paper
from examsvc.roster.models import Physician
from examsvc.roster.queries import current_physician

bp = Blueprint("attempts", __name__)


def required_kinds(procedure: Procedure) -> list[PaperKind]:
    """Simple procedure: the humanities paper; general: humanities, then professional."""
    if procedure == Procedure.SIMPLE:
        return [PaperKind.HUMANITIES]
    return [PaperKind.HUMANITIES, PaperKind.PROFESSIONAL]


def _serves(paper: Paper, physician: Physician) -> bool:
    return (
        not paper.practice_categories
        or physician.practice_category.value in paper.practice_categories
    ) and (not paper.physician_levels or physician.physician_level.value in paper.physician_levels)


@bp.get("/home")
@physician_required
def home() -> str:
    user = current_user()
    physician = current_physician(user.id) if user else None
    if physician is None:
        return render_template("attempts/home.html", physician=None)
    papers: list[dict[str, Any]] = []
    for kind in required_kinds(physician.procedure):
        exempt = (
            physician.exempt_humanities
            if kind == PaperKind.HUMANITIES
            else physician.exempt_professional
        )
        allowed = (kind == PaperKind.HUMANITIES and physician.procedure == Procedure.SIMPLE) or (
            kind == PaperKind.PROFESSIONAL and physician.procedure == Procedure.GENERAL
        )
        paper = db.session.scalars(
            sa.select(Paper).where(
                Paper.cycle_id == physician.cycle_id, Paper.kind == kind, Paper.active
            )
        ).first()
        papers.append({"kind": kind.value, "paper": paper, "exempt": exempt and allowed})
    task = (
        "报名完成-等待测评"
        if physician.status == RegistrationStatus.APPROVED
        else "已退出本周期考核"
    )
    return render_template(
        "attempts/home.html",
        physician=physician,
        papers=papers,
        task=task,
        masked_id=mask(physician.id_number),
    )
