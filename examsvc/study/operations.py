"""Study mode's rules: only banks the agency opened for study, and never during an attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass

import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.banks.models import Question, QuestionBank
from examsvc.banks.operations import current_version
from examsvc.enums import AttemptStatus, PaperKind
from examsvc.extensions import db
from examsvc.roster.models import Physician
from question_banks.types import QUESTION_TYPES, OptionOrder

SET_SIZE = 20  # questions in one practice set (模拟练习 or 背题)


@dataclass(frozen=True)
class StudyItem:
    question: Question
    order: OptionOrder  # the options as shown, shuffled as in an exam


def open_attempt(user_id: int) -> Attempt | None:
    """The user's attempt in progress, in any cycle: while it is open, study mode is closed."""
    return db.session.scalars(
        sa.select(Attempt)
        .join(Physician, Physician.id == Attempt.physician_id)
        .where(Physician.user_id == user_id, Attempt.status == AttemptStatus.IN_PROGRESS)
        .limit(1)
    ).first()


def study_banks(physician: Physician) -> list[QuestionBank]:
    """Banks open for study that concern this physician: humanities, and professional banks
    of the physician's practice category."""
    return list(
        db.session.scalars(
            sa.select(QuestionBank)
            .where(
                QuestionBank.open_for_study.is_(True),
                sa.or_(
                    QuestionBank.kind == PaperKind.HUMANITIES,
                    QuestionBank.practice_category == physician.practice_category,
                ),
            )
            .order_by(QuestionBank.kind, QuestionBank.code)
        )
    )


def practice_set(bank: QuestionBank, seed: int, size: int = SET_SIZE) -> list[StudyItem]:
    """A reproducible random set of the bank's current questions, options shuffled."""
    version = current_version(bank.id)
    if version is None:
        return []
    questions = list(
        db.session.scalars(
            sa.select(Question)
            .where(Question.version_id == version.id)
            .order_by(Question.external_id)
        )
    )
    rng = random.Random(f"study:{seed}")
    chosen = rng.sample(questions, min(size, len(questions)))
    return [StudyItem(q, QUESTION_TYPES[q.qtype].shuffled_order(q.data, rng)) for q in chosen]
