"""Papers, their blueprints and assignments, exam windows (sites and sessions: invigilation)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examsvc.db import UTCDateTime, enum_column
from examsvc.enums import PaperKind, PhysicianLevel, PracticeCategory, WindowRound
from examsvc.extensions import Model


class Paper(Model):
    """A paper of one cycle: what is drawn, for whom, for how long, how many times."""

    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycles.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[PaperKind] = mapped_column(enum_column(PaperKind, "paper_kind"))
    # Who sits it: lists of PracticeCategory / PhysicianLevel values; empty means all.
    practice_categories: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    physician_levels: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    duration_minutes: Mapped[int]
    pass_mark: Mapped[float]  # on the 0–100 score scale
    shuffle_questions: Mapped[bool] = mapped_column(default=True)
    shuffle_options: Mapped[bool] = mapped_column(default=True)
    attempt_limit_simple: Mapped[int]
    attempt_limit_general: Mapped[int]
    prerequisite_id: Mapped[int | None] = mapped_column(sa.ForeignKey("papers.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    sections: Mapped[list[PaperSection]] = relationship(
        back_populates="paper", order_by="PaperSection.position", cascade="all, delete-orphan"
    )
    # The windows for everyone; a physician's personal window (``ExamWindow.physician_id``)
    # counts for them alone, through their override (``attempts.models.PaperOverride``).
    windows: Mapped[list[ExamWindow]] = relationship(
        primaryjoin="and_(Paper.id == ExamWindow.paper_id, ExamWindow.physician_id.is_(None))",
        order_by="ExamWindow.opens_at",
        viewonly=True,
    )
    prerequisite: Mapped[Paper | None] = relationship(remote_side=[id])

    __table_args__ = (
        sa.UniqueConstraint("cycle_id", "code"),
        # The target of PaperAssignment's foreign key: a paper assigned as kind K is of kind K.
        sa.UniqueConstraint("id", "cycle_id", "kind", name="uq_papers_id_cycle_kind"),
        sa.CheckConstraint("duration_minutes BETWEEN 1 AND 600", name="duration_range"),
        sa.CheckConstraint("pass_mark > 0 AND pass_mark <= 100", name="pass_mark_range"),
        sa.CheckConstraint("attempt_limit_simple >= 1", name="limit_simple_positive"),
        sa.CheckConstraint("attempt_limit_general >= 1", name="limit_general_positive"),
        sa.CheckConstraint(
            "prerequisite_id IS NULL OR prerequisite_id <> id", name="no_self_prereq"
        ),
    )


class PaperAssignment(Model):
    """The paper of a kind that physicians of one practice category and level sit in a cycle.

    One row per (cycle, kind, category, level): the database keeps it to one paper. Only
    papers reached through these rows count (``papers.queries.papers_for``).
    """

    __tablename__ = "paper_assignments"

    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycles.id"), primary_key=True)
    kind: Mapped[PaperKind] = mapped_column(
        enum_column(PaperKind, "assignment_kind"), primary_key=True
    )
    practice_category: Mapped[PracticeCategory] = mapped_column(
        enum_column(PracticeCategory, "assignment_category"), primary_key=True
    )
    physician_level: Mapped[PhysicianLevel] = mapped_column(
        enum_column(PhysicianLevel, "assignment_level"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())

    paper: Mapped[Paper] = relationship(
        primaryjoin="Paper.id == foreign(PaperAssignment.paper_id)", viewonly=True
    )

    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["paper_id", "cycle_id", "kind"], ["papers.id", "papers.cycle_id", "papers.kind"]
        ),
    )


class PaperSection(Model):
    """A blueprint line: draw ``count`` questions of ``qtype`` with one of ``tags``."""

    __tablename__ = "paper_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(sa.ForeignKey("papers.id"), index=True)
    position: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(100))
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("question_banks.id"))
    qtype: Mapped[str] = mapped_column(sa.String(20))
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # empty: any tag
    count: Mapped[int]
    points_per_item: Mapped[float]

    paper: Mapped[Paper] = relationship(back_populates="sections")

    __table_args__ = (
        sa.UniqueConstraint("paper_id", "position"),
        sa.CheckConstraint("count >= 1", name="count_positive"),
        sa.CheckConstraint("points_per_item > 0", name="points_positive"),
    )


class ExamWindow(Model):
    """When a paper may be started: a regular window or a makeup (补考) window."""

    __tablename__ = "exam_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(sa.ForeignKey("papers.id"), index=True)
    round: Mapped[WindowRound] = mapped_column(enum_column(WindowRound, "window_round"))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the results feature queued the verdicts this window's close decided (缺考, an
    # unused makeup); NULL until then, and again when the window is moved.
    results_swept_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A makeup window's own attempt limit (NULL: the paper's limit for the procedure).
    attempt_limit: Mapped[int | None]
    # A personal window (个人考试时间): open to this physician alone, while the
    # administrator's override that made it stands. NULL: everyone's window.
    physician_id: Mapped[int | None] = mapped_column(sa.ForeignKey("physicians.id"), index=True)

    paper: Mapped[Paper] = relationship()

    __table_args__ = (
        sa.CheckConstraint("closes_at > opens_at", name="closes_after_opens"),
        # The target of PaperOverride's foreign key: a personal window is its physician's.
        sa.UniqueConstraint("id", "physician_id", "paper_id", name="uq_exam_windows_personal"),
        sa.CheckConstraint(
            "attempt_limit IS NULL OR (attempt_limit >= 1 AND round = 'makeup')",
            name="limit_of_makeup",
        ),
    )
