"""Figures for the dashboard, counted in the database."""

from __future__ import annotations

import sqlalchemy as sa

from examsvc.enums import PhotoStatus, Procedure, RegistrationStatus
from examsvc.extensions import db
from examsvc.roster.models import Cycle, Physician


def roster_counts(cycle: Cycle) -> dict[str, int]:
    p = Physician
    row = db.session.execute(
        sa.select(
            sa.func.count().filter(p.status == RegistrationStatus.APPROVED),
            sa.func.count().filter(p.status == RegistrationStatus.WITHDRAWN),
            sa.func.count().filter(
                p.status == RegistrationStatus.APPROVED, p.procedure == Procedure.SIMPLE
            ),
            sa.func.count().filter(
                p.status == RegistrationStatus.APPROVED, p.procedure == Procedure.GENERAL
            ),
            sa.func.count().filter(p.photo_status == PhotoStatus.OK),
            sa.func.count().filter(
                p.photo_status != PhotoStatus.OK, p.status == RegistrationStatus.APPROVED
            ),
        ).where(p.cycle_id == cycle.id)
    ).one()
    keys = ("approved", "withdrawn", "simple", "general", "photo_ok", "photo_todo")
    return dict(zip(keys, (int(v or 0) for v in row), strict=True))
