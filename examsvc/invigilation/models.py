"""Test sites (考点) and exam sessions: a group of candidates in a window, with its invigilators."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examsvc.db import UTCDateTime
from examsvc.extensions import Model, db
from examsvc.papers.models import ExamWindow


class Site(Model):
    """A test site (考点)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(300))


session_candidates = sa.Table(
    "session_candidates",
    db.metadata,
    sa.Column("session_id", sa.ForeignKey("exam_sessions.id"), primary_key=True),
    sa.Column("physician_id", sa.ForeignKey("physicians.id"), primary_key=True),
)

session_invigilators = sa.Table(
    "session_invigilators",
    db.metadata,
    sa.Column("session_id", sa.ForeignKey("exam_sessions.id"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
)


class ExamSession(Model):
    """A group of candidates in a window, watched by its invigilators."""

    __tablename__ = "exam_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(sa.ForeignKey("exam_windows.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(sa.String(100))
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    window: Mapped[ExamWindow] = relationship()
    site: Mapped[Site | None] = relationship()


class ProctorWarning(Model):
    """A warning an invigilator sent to a candidate during an attempt (shown at once)."""

    __tablename__ = "proctor_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("attempts.id"), index=True)
    sent_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    message: Mapped[str] = mapped_column(sa.String(300))
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
