"""An invigilator's sessions, with their candidates (the admin dashboard shows them)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from examsvc.accounts.ids import mask
from examsvc.extensions import db
from examsvc.invigilation.models import ExamSession, session_candidates, session_invigilators
from examsvc.roster.models import Physician


def sessions_of(user_id: int) -> list[ExamSession]:
    """The sessions an invigilator is assigned to."""
    return list(
        db.session.scalars(
            sa.select(ExamSession)
            .join(session_invigilators, session_invigilators.c.session_id == ExamSession.id)
            .where(session_invigilators.c.user_id == user_id)
            .order_by(ExamSession.id)
        )
    )


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
