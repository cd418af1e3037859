"""Figures for the dashboard, counted in the database."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from examsvc.accounts.ids import mask
from examsvc.enums import PhotoStatus, Procedure, RegistrationStatus
from examsvc.extensions import db
from examsvc.papers.models import ExamSession, session_candidates
from examsvc.papers.operations import sessions_of
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


@dataclass(frozen=True)
class SessionCard:
    """What an invigilator needs to know about one of their sessions."""

    session: ExamSession
    candidates: list[tuple[str, str]]  # (name, masked ID number)


def invigilator_sessions(user_id: int) -> list[SessionCard]:
    """The sessions this invigilator is assigned to, each with its candidates."""
    cards = []
    for session in sessions_of(user_id):
        people = db.session.execute(
            sa.select(Physician.name, Physician.id_number)
            .join(session_candidates, session_candidates.c.physician_id == Physician.id)
            .where(session_candidates.c.session_id == session.id)
            .order_by(Physician.registration_id)
        ).all()
        cards.append(SessionCard(session, [(name, mask(number)) for name, number in people]))
    return cards
