"""Which paper counts: the one rule for the attempts, the candidate's pages and the agency's.

A physician sits, per kind (humanities, professional), the paper *assigned* to the cycle for
their practice category and level (``PaperAssignment``). Once they have an attempt on a
paper of that kind, that paper stays theirs for the cycle: a pass is never lost and attempt
limits are never reset by a later re-assignment. See docs/exam-rules.md.
"""

from __future__ import annotations

import itertools
from typing import Any

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


# --- which paper counts ------------------------------------------------------------------
# The rule, written once: per kind, of the papers of their cycle a physician attempted, the
# one ``counting_order`` ranks first; with none attempted, the one assigned to their slot
# (``counting_paper``). Its users: ``counting_papers`` (one physician: ``papers_for`` and
# the attempts' ``chosen_papers``), ``attempts.tallies.recount`` (stored as
# ``PaperTally.counts``) and ``attempts.queries.physician_papers`` (every physician, on the
# stored counts).


def counting_order(passed_at: Any, last_at: Any, paper_id: Any) -> tuple[Any, Any, Any]:
    """The ORDER BY of a physician's attempted papers of one kind (a row each), the one that
    counts first: a paper they passed, the one whose latest passed attempt started last;
    else the paper of their latest attempt (voided and open ones too); at equal times the
    higher paper id. ``passed_at``: the start of the latest passed attempt at the paper
    (NULL: none passed); ``last_at``: the start of the latest attempt."""
    return (
        sa.case((passed_at.is_not(None), 1), else_=0).desc(),
        sa.func.coalesce(passed_at, last_at).desc(),
        paper_id.desc(),
    )


def counting_paper(attempted: Any, assigned: Any) -> Any:
    """The paper of a kind that counts: the attempted one ``counting_order`` ranks first,
    else (NULL: none attempted) the one assigned to the physician's slot."""
    return sa.func.coalesce(attempted, assigned)


def counting_papers(physician_id: Any) -> sa.Select[Any]:
    """``(kind, paper_id)``: the papers that count for one physician (an id, or a bind
    parameter in a statement built once), at most one per kind, in one statement."""
    attempts = table("attempts")  # attempts are above papers: read, never imported
    P, A = Physician, PaperAssignment
    started = attempts.c.started_at
    ranked = (
        sa.select(
            Paper.kind,
            Paper.id.label("paper_id"),
            sa.func.row_number()
            .over(
                partition_by=Paper.kind,
                order_by=counting_order(
                    sa.func.max(started).filter(attempts.c.passed.is_(True)),
                    sa.func.max(started),
                    Paper.id,
                ),
            )
            .label("rank"),
        )
        .join(attempts, attempts.c.paper_id == Paper.id)
        .join(P, sa.and_(P.id == attempts.c.physician_id, P.cycle_id == Paper.cycle_id))
        .where(attempts.c.physician_id == physician_id)
        .group_by(Paper.kind, Paper.id)
    ).subquery("attempted")
    kinds = sa.union_all(
        *(sa.select(sa.literal(kind, Paper.kind.type).label("kind")) for kind in PaperKind)
    ).subquery("kinds")
    paper = counting_paper(ranked.c.paper_id, A.paper_id)
    return (
        sa.select(kinds.c.kind, paper.label("paper_id"))
        .select_from(P)
        .join(kinds, sa.true())
        .outerjoin(ranked, sa.and_(ranked.c.kind == kinds.c.kind, ranked.c.rank == 1))
        .outerjoin(
            A,
            sa.and_(
                A.cycle_id == P.cycle_id,
                A.kind == kinds.c.kind,
                A.practice_category == P.practice_category,
                A.physician_level == P.physician_level,
            ),
        )
        .where(P.id == physician_id, paper.is_not(None))
    )


def papers_for(physician: Physician) -> list[Paper]:
    """The papers that count for this physician, at most one per kind, in ``PaperKind``'s
    order (``counting_papers``)."""
    counting = counting_papers(physician.id).subquery("counting")
    papers = db.session.scalars(
        sa.select(Paper).join(counting, counting.c.paper_id == Paper.id)
    ).all()
    order = list(PaperKind)
    return sorted(papers, key=lambda p: order.index(p.kind))


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
