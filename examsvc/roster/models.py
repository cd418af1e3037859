"""The roster: cycles and the physicians approved for the exam, pulled from the registry."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examsvc.accounts.models import User
from examsvc.db import UTCDateTime, enum_column, utcnow
from examsvc.enums import (
    Evaluation,
    PhotoStatus,
    PhysicianLevel,
    PracticeCategory,
    Procedure,
    RegistrationStatus,
)
from examsvc.extensions import Model


class Cycle(Model):
    """An assessment cycle (考核周期), e.g. HN-2024: 2022-01-01 ~ 2024-12-31."""

    __tablename__ = "cycles"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    # Incremental sync state: the largest registry updated_at stored, and the cursor
    # of a pull that stopped half-way (so the next pull resumes there).
    synced_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resume_cursor: Mapped[str | None] = mapped_column(sa.String(200))
    resume_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The largest updated_at seen by the pull under way; becomes synced_until when it ends.
    pull_high_water: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_pull_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_pull_ok: Mapped[bool | None]
    last_pull_summary: Mapped[str | None] = mapped_column(sa.Text)
    last_pull_error: Mapped[str | None] = mapped_column(sa.Text)
    # A lease so that two pulls never run at once (several processes, SQLite or PostgreSQL).
    pull_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="dates_ordered"),)


class Physician(Model):
    """One physician's registration in one cycle (registry: ``registration_id``)."""

    __tablename__ = "physicians"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycles.id"), index=True)
    registration_id: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    status: Mapped[RegistrationStatus] = mapped_column(
        enum_column(RegistrationStatus, "registration_status")
    )
    id_type: Mapped[str] = mapped_column(sa.String(20))
    id_number: Mapped[str] = mapped_column(sa.String(32))  # as the registry gave it
    id_key: Mapped[str] = mapped_column(sa.String(32), index=True)  # accounts.ids.id_key
    name: Mapped[str] = mapped_column(sa.String(100))
    gender: Mapped[str | None] = mapped_column(sa.String(1))
    birth_date: Mapped[date | None]
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    institution_code: Mapped[str] = mapped_column(sa.String(64))
    institution_name: Mapped[str] = mapped_column(sa.String(200))
    department: Mapped[str | None] = mapped_column(sa.String(100))
    practice_category: Mapped[PracticeCategory] = mapped_column(
        enum_column(PracticeCategory, "practice_category")
    )
    physician_level: Mapped[PhysicianLevel] = mapped_column(
        enum_column(PhysicianLevel, "physician_level")
    )
    procedure: Mapped[Procedure] = mapped_column(enum_column(Procedure, "procedure"))
    exempt_humanities: Mapped[bool] = mapped_column(default=False)
    exempt_professional: Mapped[bool] = mapped_column(default=False)
    eval_work_performance: Mapped[Evaluation] = mapped_column(
        enum_column(Evaluation, "eval_work_performance")
    )
    eval_ethics: Mapped[Evaluation] = mapped_column(enum_column(Evaluation, "eval_ethics"))
    photo_url: Mapped[str | None] = mapped_column(sa.String(500))
    photo_sha256: Mapped[str | None] = mapped_column(sa.String(64))  # the registry's
    photo_status: Mapped[PhotoStatus] = mapped_column(
        enum_column(PhotoStatus, "photo_status"), default=PhotoStatus.PENDING
    )
    photo_problem: Mapped[str | None] = mapped_column(sa.String(40))  # proctoring reason code
    photo_problem_text: Mapped[str | None] = mapped_column(sa.String(200))
    # 128 float64 values from the face model (proctoring: encoding_bytes()).
    face_encoding: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # Extra minutes an agency grants this physician per attempt (e.g. a disability).
    time_allowance_minutes: Mapped[int] = mapped_column(default=0)
    registry_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    cycle: Mapped[Cycle] = relationship()
    user: Mapped[User] = relationship()

    @hybrid_property
    def photo_usable(self) -> bool:
        """A registration photo the engine accepted and encoded (the entry verification
        compares with it); in SQL too, so that a narrow read selects it as a column."""
        return self.photo_status == PhotoStatus.OK and self.face_encoding is not None

    @photo_usable.inplace.expression
    @classmethod
    def _photo_usable(cls) -> sa.ColumnElement[bool]:
        return sa.and_(cls.photo_status == PhotoStatus.OK, cls.face_encoding.is_not(None))

    __table_args__ = (
        sa.UniqueConstraint("cycle_id", "registration_id"),
        sa.UniqueConstraint("cycle_id", "id_key"),
        # The statistics' filters by institution and department, and the institutions' list.
        sa.Index("ix_physicians_cycle_institution", "cycle_id", "institution_code", "department"),
        sa.CheckConstraint("time_allowance_minutes >= 0", name="allowance_positive"),
    )


class RosterProblem(Model):
    """A registry item that could not be stored, shown to the agency until it is fixed."""

    __tablename__ = "roster_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycles.id"), index=True)
    registration_id: Mapped[str] = mapped_column(sa.String(64))
    field: Mapped[str] = mapped_column(sa.String(64))
    message: Mapped[str] = mapped_column(sa.String(300))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (sa.UniqueConstraint("cycle_id", "registration_id", "field"),)
