"""An attempt's questions as its candidate sees them, kept in the process (issue #14).

What a state fetch shows of the questions and what a save checks a response against never
change once an attempt has started: its items (question, position, section, points, option
order) are fixed at the start, and a question row is never updated (a bank's new version
adds rows). So they are read once and kept in a bounded LRU of this process, keyed by the
attempt (its id, seed and start, so that a key never names another attempt's items), with
the questions themselves in a second LRU shared by every attempt that drew them. Nothing is
ever stale, so nothing needs invalidating, in this process or in others. A state fetch then
reads only the attempt's row and its answers, a save only the attempt's row.

A sheet is stored only once the attempt is committed (read paths see committed attempts
only; a start stores it after its unit commits, ``uow.after_commit``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from examsvc.attempts.models import AttemptItem
from examsvc.banks.models import Question
from examsvc.extensions import db
from examsvc.lru import LRU
from question_banks.types import QUESTION_TYPES

SHEETS = 2_000  # attempts kept (their views; the questions are shared, below)
QUESTIONS = 20_000  # questions kept, shared by the sheets that drew them
EXTENSION = "attempts.sheets"  # app.extensions key: this app's caches


@dataclass(frozen=True)
class SheetItem:
    id: int
    position: int
    qtype: str
    data: dict[str, Any]  # the question with its key: for checking responses, never sent
    view: dict[str, Any]  # position, section, points and the candidate's view (no key)


@dataclass(frozen=True)
class Sheet:
    items: tuple[SheetItem, ...]
    by_position: dict[int, SheetItem] = field(repr=False)

    def at(self, position: int) -> SheetItem | None:
        return self.by_position.get(position)


@dataclass
class Caches:
    sheets: LRU[tuple[int, int, datetime], Sheet]
    questions: LRU[int, tuple[str, dict[str, Any]]]


def caches() -> Caches:
    """This app's caches (each app its own: a test's app never sees another's attempts)."""
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        found = current_app.extensions.setdefault(EXTENSION, Caches(LRU(SHEETS), LRU(QUESTIONS)))
    return found


def key(attempt_id: int, seed: int, started_at: datetime) -> tuple[int, int, datetime]:
    return (attempt_id, seed, started_at)


def cached(attempt_id: int, seed: int, started_at: datetime) -> Sheet:
    """The committed attempt's sheet: from the cache, else read and kept."""
    store = caches().sheets
    k = key(attempt_id, seed, started_at)
    sheet = store.get(k)
    if sheet is None:
        sheet = load(attempt_id)
        store.put(k, sheet)
    return sheet


_ITEMS = (
    sa.select(
        AttemptItem.id,
        AttemptItem.position,
        AttemptItem.question_id,
        AttemptItem.section_position,
        AttemptItem.points_per_item,
        AttemptItem.option_order,
    )
    .where(AttemptItem.attempt_id == sa.bindparam("attempt_id"))
    .order_by(AttemptItem.position)
)
_QUESTIONS = sa.select(Question.id, Question.qtype, Question.data).where(
    Question.id.in_(sa.bindparam("ids", expanding=True))
)


def questions(ids: Iterable[int]) -> dict[int, tuple[str, dict[str, Any]]]:
    """(qtype, data) of these questions, from the cache or read in one query."""
    store = caches().questions
    out: dict[int, tuple[str, dict[str, Any]]] = {}
    missing = []
    for qid in ids:
        found = store.get(qid)
        if found is None:
            missing.append(qid)
        else:
            out[qid] = found
    if missing:
        for qid, qtype, data in db.session.execute(_QUESTIONS, {"ids": missing}):
            out[qid] = (qtype, data)
            store.put(qid, (qtype, data))
    return out


def load(attempt_id: int) -> Sheet:
    """Read the attempt's items (one query) and the questions not cached yet (one more)."""
    rows = db.session.execute(_ITEMS, {"attempt_id": attempt_id}).all()
    found = questions({row.question_id for row in rows})
    items = []
    for row in rows:
        qtype, data = found[row.question_id]
        view = {
            "position": row.position,
            "section": row.section_position,
            "points": row.points_per_item,
            **QUESTION_TYPES[qtype].candidate_view(data, row.option_order),
        }
        items.append(SheetItem(row.id, row.position, qtype, data, view))
    return Sheet(tuple(items), {i.position: i for i in items})
