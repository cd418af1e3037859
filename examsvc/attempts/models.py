"""Attempts at papers, their fixed questions and the candidate's answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examsvc.banks.models import Question
from examsvc.db import UTCDateTime, enum_column
from examsvc.enums import AttemptStatus, OverrideKind, PaperKind, SubmitReason
from examsvc.extensions import Model
from examsvc.papers.models import ExamWindow, Paper
from examsvc.roster.models import Physician


def overdue(deadline_at: Any, now: datetime, grace: timedelta) -> Any:
    """``Attempt.overdue``'s rule, also for an attempt read as a few columns (a save's
    ``operations.AttemptRef``): a bool in Python, a condition on a column in SQL."""
    return deadline_at <= now - grace


class Attempt(Model):
    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    physician_id: Mapped[int] = mapped_column(sa.ForeignKey("physicians.id"), index=True)
    paper_id: Mapped[int] = mapped_column(sa.ForeignKey("papers.id"), index=True)
    window_id: Mapped[int] = mapped_column(sa.ForeignKey("exam_windows.id"))
    number: Mapped[int]  # 1 for the first attempt at this paper
    status: Mapped[AttemptStatus] = mapped_column(
        enum_column(AttemptStatus, "attempt_status"), index=True
    )
    # "<physician_id>:<paper_id>" while in progress, NULL after: the unique constraint
    # allows at most one open attempt per physician and paper, whatever races.
    open_slot: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    seed: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submit_reason: Mapped[SubmitReason | None] = mapped_column(
        enum_column(SubmitReason, "submit_reason")
    )
    void_reason: Mapped[str | None] = mapped_column(sa.String(300))
    last_seq: Mapped[int] = mapped_column(default=0)
    total_points: Mapped[float]
    earned_points: Mapped[float | None]
    score: Mapped[float | None]  # 0–100
    passed: Mapped[bool | None]

    physician: Mapped[Physician] = relationship()
    paper: Mapped[Paper] = relationship()
    window: Mapped[ExamWindow] = relationship()
    items: Mapped[list[AttemptItem]] = relationship(
        back_populates="attempt", order_by="AttemptItem.position"
    )

    @hybrid_method
    def overdue(self, now: datetime, grace: timedelta) -> Any:
        """The deadline and the late-save grace after it have passed: no save is accepted
        any more, and the sweeper hands the attempt in. One rule, in Python on an attempt
        and in SQL on the class (``Attempt.overdue(now, grace)`` in a query)."""
        return overdue(self.deadline_at, now, grace)

    __table_args__ = (
        sa.UniqueConstraint("physician_id", "paper_id", "number"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
        sa.CheckConstraint("deadline_at > started_at", name="deadline_after_start"),
        sa.CheckConstraint(
            "(status = 'in_progress') = (open_slot IS NOT NULL)", name="open_slot_iff_open"
        ),
        sa.CheckConstraint(
            "(status = 'in_progress') OR submitted_at IS NOT NULL", name="closed_has_time"
        ),
    )


class PaperTally(Model):
    """A physician's attempts at one paper, counted: stored state kept by the operations that
    change attempts (``operations.retally``: start, submit, void, the sweeper through
    submit), in the same unit, so that progress and statistics read one row per physician and
    paper instead of grouping every attempt (``queries.physician_papers``). What depends on
    time (windows open or closed at ``now``) is not stored: the queries decide it over these
    columns. ``counts``: the paper of its kind that counts for the physician
    (``papers.queries.counting_order``: passed first, then the latest attempted; papers of
    the physician's cycle only), at most one per physician and kind."""

    __tablename__ = "paper_tallies"

    physician_id: Mapped[int] = mapped_column(sa.ForeignKey("physicians.id"), primary_key=True)
    paper_id: Mapped[int] = mapped_column(sa.ForeignKey("papers.id"), primary_key=True)
    kind: Mapped[PaperKind] = mapped_column(enum_column(PaperKind, "paper_kind"))
    counts: Mapped[bool]
    regular_used: Mapped[int]  # attempts in regular windows (every status)
    makeup_used: Mapped[int]  # attempts in makeup windows
    in_progress: Mapped[int]  # 0 or 1: the open attempt
    submitted: Mapped[int]
    voided: Mapped[int]
    passed: Mapped[bool]  # an attempt passed
    best_score: Mapped[float | None]
    last_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    passed_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # latest passed
    last_voided: Mapped[bool]  # the latest attempt was voided
    last_regular_voided: Mapped[bool]  # rules.regular_voided: the regular round's last one

    __table_args__ = (
        sa.CheckConstraint(
            "regular_used >= 0 AND makeup_used >= 0 AND regular_used + makeup_used >= 1",
            name="used_counted",
        ),
        sa.CheckConstraint("in_progress IN (0, 1)", name="one_open"),
        sa.CheckConstraint(
            "submitted >= 0 AND voided >= 0"
            " AND in_progress + submitted + voided = regular_used + makeup_used",
            name="statuses_add_up",
        ),
        sa.CheckConstraint("best_score IS NULL OR best_score BETWEEN 0 AND 100", name="score"),
        sa.CheckConstraint("passed = (passed_started_at IS NOT NULL)", name="passed_iff_when"),
        sa.CheckConstraint("NOT last_regular_voided OR voided >= 1", name="voided_counted"),
        sa.CheckConstraint("NOT last_voided OR voided >= 1", name="last_voided_counted"),
        # One paper of a kind counts for a physician.
        sa.Index(
            "uq_paper_tallies_counting",
            "physician_id",
            "kind",
            unique=True,
            sqlite_where=sa.text("counts"),
            postgresql_where=sa.text("counts"),
        ),
    )


class AttemptItem(Model):
    """A question fixed in an attempt, in the candidate's order, with its option order."""

    __tablename__ = "attempt_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("attempts.id"), index=True)
    position: Mapped[int]
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id"))
    section_position: Mapped[int]
    points_per_item: Mapped[float]
    # Option keys in the candidate's order, by slot ("" or a case sub-question's id).
    option_order: Mapped[dict[str, list[str]] | None] = mapped_column(sa.JSON)
    earned_points: Mapped[float | None]

    attempt: Mapped[Attempt] = relationship(back_populates="items")
    question: Mapped[Question] = relationship()

    __table_args__ = (sa.UniqueConstraint("attempt_id", "position"),)


class Answer(Model):
    """The latest saved response to one item; ``seq`` orders saves (older never wins)."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("attempts.id"), index=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("attempt_items.id"))
    response: Mapped[Any] = mapped_column(sa.JSON, nullable=True)
    marked: Mapped[bool] = mapped_column(default=False)
    seq: Mapped[int]
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    late: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        sa.UniqueConstraint("attempt_id", "item_id"),
        sa.CheckConstraint("seq >= 1", name="seq_positive"),
    )


class PaperOverride(Model):
    """An administrator's decision for one physician and one paper (个人特殊安排), with its
    reason: more attempts, a personal window, makeup after a void, extra time. It counts
    while not revoked; revoking keeps the row (who granted and revoked it, and when)."""

    __tablename__ = "paper_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    physician_id: Mapped[int] = mapped_column(sa.ForeignKey("physicians.id"))
    paper_id: Mapped[int] = mapped_column(sa.ForeignKey("papers.id"))
    kind: Mapped[OverrideKind] = mapped_column(enum_column(OverrideKind, "override_kind"))
    attempts: Mapped[int | None]  # extra_attempts: how many more
    minutes: Mapped[int | None]  # extra_time: minutes added to the paper's duration
    window_id: Mapped[int | None] = mapped_column(unique=True)
    reason: Mapped[str] = mapped_column(sa.String(300))
    granted_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    window: Mapped[ExamWindow | None] = relationship(
        primaryjoin="ExamWindow.id == foreign(PaperOverride.window_id)", viewonly=True
    )
    paper: Mapped[Paper] = relationship()

    __table_args__ = (
        # A personal window is of this override's physician and paper.
        sa.ForeignKeyConstraint(
            ["window_id", "physician_id", "paper_id"],
            ["exam_windows.id", "exam_windows.physician_id", "exam_windows.paper_id"],
        ),
        sa.CheckConstraint(
            "(kind = 'extra_attempts') = (attempts IS NOT NULL)", name="attempts_iff_kind"
        ),
        sa.CheckConstraint("attempts IS NULL OR attempts BETWEEN 1 AND 10", name="attempts_range"),
        sa.CheckConstraint(
            "(kind = 'extra_time') = (minutes IS NOT NULL)", name="minutes_iff_kind"
        ),
        sa.CheckConstraint("minutes IS NULL OR minutes BETWEEN 1 AND 600", name="minutes_range"),
        sa.CheckConstraint("(kind = 'window') = (window_id IS NOT NULL)", name="window_iff_kind"),
        sa.CheckConstraint("length(reason) >= 2", name="reason_given"),
        sa.CheckConstraint(
            "revoked_at IS NULL OR revoked_at >= granted_at", name="revoked_after_granted"
        ),
        sa.Index("ix_paper_overrides_physician_paper", "physician_id", "paper_id"),
    )
