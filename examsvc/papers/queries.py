"""Which paper counts: the one rule for the attempts, the candidate's pages and the agency's.

A physician sits, per kind (humanities, professional), the paper *assigned* to the cycle for
their practice category and level (``PaperAssignment``). Once they have an attempt on a
paper of that kind, that paper stays theirs for the cycle: a pass is never lost and attempt
limits are never reset by a later re-assignment. See docs/exam-rules.md.
"""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from examsvc.enums import PaperKind, PhysicianLevel, PracticeCategory
from examsvc.extensions import db, table
from examsvc.papers.models import ExamWindow, Paper, PaperAssignment
from examsvc.roster.models import Physician

Slot = tuple[PracticeCategory, PhysicianLevel]


def slots_of(paper: Paper) -> list[Slot]:
    """The (category, level) pairs a paper is written for (an empty list means all)."""
    categories = [PracticeCategory(c) for c in paper.practice_categories] or list(PracticeCategory)
    levels = [PhysicianLevel(v) for v in paper.physician_levels] or list(PhysicianLevel)
    return list(itertools.product(categories, levels))


def assigned_slots(cycle_id: int) -> dict[int, list[Slot]]:
    """For the papers list: each paper in use and the slots it is assigned to."""
    out: dict[int, list[Slot]] = {}
    for row in db.session.scalars(
        sa.select(PaperAssignment).where(PaperAssignment.cycle_id == cycle_id)
    ):
        out.setdefault(row.paper_id, []).append((row.practice_category, row.physician_level))
    return out


def papers_for(physician: Physician) -> list[Paper]:
    """The papers that count for this physician, at most one per kind."""
    attempts = table("attempts")  # attempts are above papers: read, never imported
    chosen: list[Paper] = []
    for kind in PaperKind:
        # Passed first, then the most recent attempt: the paper they have started stays theirs.
        started = db.session.scalars(
            sa.select(Paper)
            .join(attempts, attempts.c.paper_id == Paper.id)
            .where(
                attempts.c.physician_id == physician.id,
                Paper.cycle_id == physician.cycle_id,
                Paper.kind == kind,
            )
            .order_by(
                sa.func.coalesce(attempts.c.passed, False).desc(), attempts.c.started_at.desc()
            )
            .limit(1)
        ).first()
        paper = (
            started
            or db.session.scalars(
                sa.select(Paper)
                .join(PaperAssignment, PaperAssignment.paper_id == Paper.id)
                .where(
                    PaperAssignment.cycle_id == physician.cycle_id,
                    PaperAssignment.kind == kind,
                    PaperAssignment.practice_category == physician.practice_category,
                    PaperAssignment.physician_level == physician.physician_level,
                )
            ).first()
        )
        if paper is not None:
            chosen.append(paper)
    return chosen


def cycle_windows(cycle_id: int) -> list[ExamWindow]:
    """Every exam window of the cycle's papers, earliest first (not the personal windows of
    single physicians: their roster pages show those)."""
    return list(
        db.session.scalars(
            sa.select(ExamWindow)
            .join(Paper)
            .where(Paper.cycle_id == cycle_id, ExamWindow.physician_id.is_(None))
            .order_by(ExamWindow.opens_at)
        )
    )
