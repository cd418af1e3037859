"""Question banks. A re-import makes a new version; question rows never change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examsvc.db import UTCDateTime, enum_column
from examsvc.enums import PaperKind, PracticeCategory
from examsvc.extensions import Model


class QuestionBank(Model):
    __tablename__ = "question_banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[PaperKind] = mapped_column(enum_column(PaperKind, "bank_kind"))
    practice_category: Mapped[PracticeCategory | None] = mapped_column(
        enum_column(PracticeCategory, "bank_category")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The agency's decision to publish this bank's keys in study mode (背题模式, 模拟练习).
    # Off by default: an exam bank's keys must not reach physicians who sit it.
    open_for_study: Mapped[bool] = mapped_column(default=False)
    # The current version is the one with the highest number.


class BankVersion(Model):
    __tablename__ = "bank_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("question_banks.id"), index=True)
    number: Mapped[int]
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    source_filename: Mapped[str] = mapped_column(sa.String(255))
    source_sha256: Mapped[str] = mapped_column(sa.String(64))
    question_count: Mapped[int]
    item_count: Mapped[int]  # scoring items: case/matching groups count each sub-question

    bank: Mapped[QuestionBank] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("bank_id", "number"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
    )


class Question(Model):
    """One question of one bank version, in the JSON shape of docs/question-banks.md."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_versions.id"))
    external_id: Mapped[str] = mapped_column(sa.String(64))
    qtype: Mapped[str] = mapped_column(sa.String(20))
    tag: Mapped[str] = mapped_column(sa.String(64))
    difficulty: Mapped[int]
    stem: Mapped[str] = mapped_column(sa.Text)  # for browsing and search
    scoring_items: Mapped[int]
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)

    version: Mapped[BankVersion] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("version_id", "external_id"),
        sa.Index("ix_questions_draw", "version_id", "qtype", "tag"),
        sa.CheckConstraint("difficulty BETWEEN 1 AND 5", name="difficulty_range"),
        sa.CheckConstraint(
            "qtype IN ('single', 'multiple', 'true_false', 'case', 'matching')", name="qtype"
        ),
        sa.CheckConstraint("scoring_items >= 1", name="scoring_items_positive"),
    )
