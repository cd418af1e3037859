"""An attempt's questions as its candidate sees them, kept in the process (issue #14).

What a state fetch shows of the questions and what a save checks a response against never
change once an attempt has started: its items (question, position, section, points, option
order) are fixed at the start, and a question row is never updated (a bank's new version
adds rows). So they are read once and kept in a bounded LRU of this process, keyed by the
attempt (its id, seed and start, so that a key never names another attempt's items), with
the questions themselves in the banks' LRU (``banks.operations.question_data``), shared by
every draw and sheet that uses them. Nothing is ever stale, so nothing needs invalidating,
in this process or in others. A state fetch then reads only the attempt's row and its
answers, a save only the attempt's row.

A start builds its sheet from its own draw (the items it inserts, the questions the draw
used), never reading it back (``started``). A sheet is stored only once the attempt is
committed (read paths see committed attempts only; a start stores it after its unit
commits, ``uow.after_commit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event, orm

from examsvc import uow
from examsvc.attempts.models import AttemptItem
from examsvc.banks.operations import QuestionData, question_data
from examsvc.extensions import db
from examsvc.lru import LRU
from question_banks.types import QUESTION_TYPES

SHEETS = 2_000  # attempts kept (their views; the questions are shared: banks.operations)
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


def caches() -> Caches:
    """This app's caches (each app its own: a test's app never sees another's attempts)."""
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        found = current_app.extensions.setdefault(EXTENSION, Caches(LRU(SHEETS)))
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


@dataclass
class Started:
    """An attempt started in the session's transaction, as its start drew it."""

    key: tuple[int, int, datetime]
    sheet: Sheet  # built from the draw, never read back
    paper: str  # the paper's name, as the start read it
    answered: bool = False  # an answer stored since (``operations.save_answer``)


# The attempts started in the session's transaction, by id (Session.info key): their sheets
# are kept once it commits; the records are forgotten when it ends, either way.
_STARTED = "attempts.sheets.started"


def started(attempt_id: int, seed: int, started_at: datetime, sheet: Sheet, paper: str) -> None:
    """A start's sheet, built from its own draw: its unit finds it (``of_started``) and it
    is kept once the unit has committed (never if it rolls back)."""
    k = key(attempt_id, seed, started_at)
    db.session.info.setdefault(_STARTED, {})[attempt_id] = Started(k, sheet, paper)
    store = caches().sheets
    uow.after_commit(lambda: store.put(k, sheet))


def of_started(attempt_id: int, seed: int, started_at: datetime) -> Started | None:
    """The attempt if it was started in this transaction (None: it was not)."""
    found: Started | None = db.session.info.get(_STARTED, {}).get(attempt_id)
    return found if found is not None and found.key == key(attempt_id, seed, started_at) else None


def answered(attempt_id: int) -> None:
    """An answer of the attempt was stored in this transaction (``operations.save_answer``,
    the one writer of answers): a view of it reads its answers again."""
    found: Started | None = db.session.info.get(_STARTED, {}).get(attempt_id)
    if found is not None:
        found.answered = True


@event.listens_for(orm.Session, "after_transaction_end")
def _ended(session: orm.Session, transaction: orm.SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_STARTED, None)


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

# An item as the sheet takes it: (id, position, question_id, section_position,
# points_per_item, option_order), as ``_ITEMS`` reads it and a start inserts it.
ItemRow = tuple[int, int, int, int, float, dict[str, list[str]] | None]


def build(rows: Sequence[ItemRow], found: dict[int, QuestionData]) -> Sheet:
    """The sheet of these items (in position order), their questions in ``found``."""
    items = []
    for item_id, position, question_id, section, points, option_order in rows:
        question = found[question_id]
        view = {
            "position": position,
            "section": section,
            "points": points,
            **QUESTION_TYPES[question.qtype].candidate_view(question.data, option_order),
        }
        items.append(SheetItem(item_id, position, question.qtype, question.data, view))
    return Sheet(tuple(items), {i.position: i for i in items})


def load(attempt_id: int) -> Sheet:
    """Read the attempt's items (one query) and the questions not kept yet (one more:
    ``banks.operations.question_data``)."""
    rows = cast(
        list[ItemRow],
        [tuple(row) for row in db.session.execute(_ITEMS, {"attempt_id": attempt_id})],
    )
    return build(rows, question_data({row[2] for row in rows}))
