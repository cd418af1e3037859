"""Storing banks: every import is a new version; question rows never change afterwards."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from examsvc.audit.operations import record
from examsvc.banks.models import BankVersion, Question, QuestionBank
from examsvc.enums import PaperKind, PracticeCategory
from examsvc.errors import Conflict
from examsvc.extensions import db, table
from examsvc.lru import LRU
from examsvc.marks import N_
from question_banks import ParsedBank
from question_banks.types import QUESTION_TYPES

INSERT_CHUNK = 250  # questions per INSERT: a 3,000-question bank never holds the loop long


class BankConflict(Conflict):
    """The import names an existing bank with a different kind or category."""


@dataclass(frozen=True)
class BankInfo:
    code: str
    name: str
    kind: PaperKind
    practice_category: PracticeCategory | None


def import_bank(
    parsed: ParsedBank,
    info: BankInfo,
    *,
    filename: str,
    data: bytes,
    actor_id: int | None,
    now: datetime,
) -> BankVersion:
    """Store a parsed (already valid) bank as its next version, in the caller's transaction."""
    bank = db.session.scalars(sa.select(QuestionBank).where(QuestionBank.code == info.code)).first()
    if bank is None:
        bank = QuestionBank(
            code=info.code,
            name=info.name,
            kind=info.kind,
            practice_category=info.practice_category,
            created_at=now,
        )
        db.session.add(bank)
        db.session.flush()
    elif bank.kind != info.kind or bank.practice_category != info.practice_category:
        raise BankConflict(
            "bank_conflict", N_("题库 {code} 已存在，且类型或执业类别不同", code=info.code)
        )
    else:
        bank.name = info.name
    number = (
        db.session.scalar(
            sa.select(sa.func.max(BankVersion.number)).where(BankVersion.bank_id == bank.id)
        )
        or 0
    ) + 1
    version = BankVersion(
        bank_id=bank.id,
        number=number,
        imported_at=now,
        imported_by_id=actor_id,
        source_filename=filename[:255],
        source_sha256=hashlib.sha256(data).hexdigest(),
        question_count=len(parsed.questions),
        item_count=parsed.item_count,
    )
    db.session.add(version)
    db.session.flush()
    rows = [_row(version.id, q) for q in parsed.questions]
    for start in range(0, len(rows), INSERT_CHUNK):
        db.session.execute(sa.insert(Question), rows[start : start + INSERT_CHUNK])
        time.sleep(0)  # under gevent, other greenlets (answer saves) run between chunks
    return version


def _row(version_id: int, q: dict[str, Any]) -> dict[str, Any]:
    kind = QUESTION_TYPES[q["type"]]
    stem = q.get("stem") or ""
    if kind.grouped:
        stem = " / ".join([stem, *(s["stem"] for s in q["sub_questions"])]).strip(" /")
    return {
        "version_id": version_id,
        "external_id": q["external_id"],
        "qtype": q["type"],
        "tag": q["tag"],
        "difficulty": q["difficulty"],
        "stem": stem,
        "scoring_items": kind.scoring_items(q),
        "data": q,
    }


def current_version_id(bank_id: Any) -> sa.ScalarSelect[int]:
    """The id of the bank's current version (its highest number), as a scalar subquery:
    ``bank_id`` an id, a bind parameter or a column to correlate with."""
    latest = sa.orm.aliased(BankVersion)  # never correlated with an outer bank_versions
    return (
        sa.select(latest.id)
        .where(latest.bank_id == bank_id)
        .order_by(latest.number.desc())
        .limit(1)
        .scalar_subquery()
    )


def current_version(bank_id: int) -> BankVersion | None:
    return db.session.scalars(
        sa.select(BankVersion).where(BankVersion.id == current_version_id(bank_id))
    ).first()


# --- the questions drawn, kept in the process ---------------------------------------------

QUESTIONS = 20_000  # questions kept per app, shared by every draw and sheet that uses them
QUESTION_CACHE = "banks.questions"  # app.extensions key


@dataclass(frozen=True)
class QuestionData:
    """What a draw, a sheet and a score need of a question."""

    qtype: str
    data: dict[str, Any]  # with its key: never sent as it is
    scoring_items: int


def question_cache() -> LRU[int, QuestionData]:
    """This app's questions (each app its own). A question row never changes and is never
    deleted (a re-import adds a version), so nothing kept is ever stale."""
    found = current_app.extensions.get(QUESTION_CACHE)
    if found is None:
        found = current_app.extensions.setdefault(QUESTION_CACHE, LRU(QUESTIONS))
    return found


_QUESTION_DATA = sa.select(
    Question.id, Question.qtype, Question.data, Question.scoring_items
).where(Question.id.in_(sa.bindparam("ids", expanding=True)))


def question_data(ids: Iterable[int]) -> dict[int, QuestionData]:
    """These questions' data, from the process's cache, the missing ones read in one query."""
    store = question_cache()
    out: dict[int, QuestionData] = {}
    missing = []
    for qid in ids:
        found = store.get(qid)
        if found is None:
            missing.append(qid)
        else:
            out[qid] = found
    if missing:
        for qid, qtype, data, scoring_items in db.session.execute(_QUESTION_DATA, {"ids": missing}):
            out[qid] = QuestionData(qtype, data, scoring_items)
            store.put(qid, out[qid])
    return out


def search(
    version_id: int,
    *,
    text: str = "",
    qtype: str = "",
    tag: str = "",
    difficulty: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[int, list[Question]]:
    query = sa.select(Question).where(Question.version_id == version_id)
    if text:
        query = query.where(sa.or_(Question.stem.contains(text), Question.external_id == text))
    if qtype:
        query = query.where(Question.qtype == qtype)
    if tag:
        query = query.where(Question.tag == tag)
    if difficulty:
        query = query.where(Question.difficulty == difficulty)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(Question.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return total, list(rows)


def version_questions(version_id: int) -> list[dict[str, Any]]:
    return [
        q.data
        for q in db.session.scalars(
            sa.select(Question).where(Question.version_id == version_id).order_by(Question.id)
        )
    ]


def counts(version_id: int) -> dict[tuple[str, str], int]:
    """How many questions of each (type, tag) a version holds: what blueprints draw from."""
    rows = db.session.execute(
        sa.select(Question.qtype, Question.tag, sa.func.count())
        .where(Question.version_id == version_id)
        .group_by(Question.qtype, Question.tag)
    ).all()
    return {(qtype, tag): int(n) for qtype, tag, n in rows}


def set_open_for_study(
    bank: QuestionBank, open_: bool, *, actor_id: int | None, now: datetime
) -> None:
    """The agency opens (or closes) a bank's keys to study mode; audit-logged."""
    if bank.open_for_study == open_:
        return
    bank.open_for_study = open_
    record(
        "bank.study_open" if open_ else "bank.study_close",
        "bank",
        bank.code,
        actor_id=actor_id,
        now=now,
    )
    db.session.flush()


def papers_drawing_from(bank_id: int) -> list[str]:
    """Names of the active papers with a section that draws from this bank."""
    # Papers are above banks (a paper draws from banks): read, never imported.
    papers, sections = table("papers").c, table("paper_sections").c
    return list(
        db.session.scalars(
            sa.select(papers.name)
            .join_from(table("papers"), table("paper_sections"), sections.paper_id == papers.id)
            .where(sections.bank_id == bank_id, papers.active.is_(True))
            .distinct()
            .order_by(papers.name)
        )
    )
