"""Each physician's attempts at each paper, counted (``models.PaperTally``): the counting in
SQL (``recount``) and the upkeep (``retally``), which the operations that change attempts call
in their own unit (start, submit — the sweeper's too —, void), after their flush. The bench
fills the table from ``recount`` in one ``INSERT … SELECT``; tests/attempts/test_tallies.py
holds the stored rows to a recount after a mixed history."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from examsvc.attempts.models import Attempt, PaperTally
from examsvc.enums import AttemptStatus, WindowRound
from examsvc.extensions import db
from examsvc.papers.models import ExamWindow, Paper
from examsvc.papers.queries import counting_order
from examsvc.roster.models import Physician

# The columns of ``PaperTally`` that ``recount`` gives, in its order.
COLUMNS = (
    "physician_id",
    "paper_id",
    "kind",
    "counts",
    "regular_used",
    "makeup_used",
    "in_progress",
    "submitted",
    "voided",
    "passed",
    "best_score",
    "last_started_at",
    "passed_started_at",
    "last_voided",
    "last_regular_voided",
)
BOOLEANS = {"passed", "last_voided", "last_regular_voided"}


def recount(*where: Any) -> sa.Select[Any]:
    """``PaperTally``'s rows as the attempts that meet ``where`` give them (one per physician
    and paper attempted). ``counts``: the paper of its kind that ``papers.queries.counting_order``
    ranks first among the physician's; only papers of the physician's cycle count."""
    A, W, X, P = Attempt, ExamWindow, Paper, Physician
    regular = W.round == WindowRound.REGULAR
    voided = A.status == AttemptStatus.VOIDED
    passed = A.passed.is_(True)

    def count(*also: Any) -> Any:
        return sa.func.count().filter(*also)

    def last_is(*also: Any) -> Any:
        """The last attempt (by number) among ``also`` is voided."""
        return sa.func.coalesce(
            sa.func.max(A.number).filter(*also, voided) == sa.func.max(A.number).filter(*also),
            False,
        )

    passed_at = sa.func.max(A.started_at).filter(passed)
    last = sa.func.max(A.started_at)
    in_cycle = X.cycle_id == P.cycle_id
    rank = sa.func.row_number().over(
        partition_by=(A.physician_id, X.kind, in_cycle),
        order_by=counting_order(passed_at, last, A.paper_id),
    )
    return (
        sa.select(
            A.physician_id,
            A.paper_id,
            X.kind,
            sa.and_(in_cycle, rank == 1).label("counts"),
            count(regular).label("regular_used"),
            count(W.round == WindowRound.MAKEUP).label("makeup_used"),
            count(A.status == AttemptStatus.IN_PROGRESS).label("in_progress"),
            count(A.status == AttemptStatus.SUBMITTED).label("submitted"),
            count(voided).label("voided"),
            passed_at.is_not(None).label("passed"),
            sa.func.max(A.score).label("best_score"),
            last.label("last_started_at"),
            passed_at.label("passed_started_at"),
            last_is(sa.true()).label("last_voided"),
            last_is(regular).label("last_regular_voided"),
        )
        .join(W, W.id == A.window_id)
        .join(X, X.id == A.paper_id)
        .join(P, P.id == A.physician_id)
        .where(*where)
        .group_by(A.physician_id, A.paper_id, X.kind, X.cycle_id, P.cycle_id)
    )


# retally's statement, built once (a start runs it: building it each time cost ~1 ms). The
# paper's kind comes from an alias of papers, so that it does not correlate with recount's.
_PAPER = aliased(Paper)
_RECOUNT_ONE = recount(
    Attempt.physician_id == sa.bindparam("physician_id"),
    Paper.kind
    == sa.select(_PAPER.kind).where(_PAPER.id == sa.bindparam("paper_id")).scalar_subquery(),
)


_TALLIES = cast(sa.Table, PaperTally.__table__)


def _upsert(dialect: Any) -> Any:
    """Store a recounted row (``counts`` false: set after, never two at once)."""
    insert = dialect.insert(_TALLIES).values(
        {_TALLIES.c[name]: sa.bindparam(name, type_=_TALLIES.c[name].type) for name in COLUMNS}
    )
    return insert.on_conflict_do_update(
        index_elements=[_TALLIES.c.physician_id, _TALLIES.c.paper_id],
        set_={name: insert.excluded[name] for name in COLUMNS[2:]},
    )


_UPSERTS = {"sqlite": _upsert(sqlite), "postgresql": _upsert(postgresql)}
_COUNTS = (
    sa.update(_TALLIES)
    .where(
        _TALLIES.c.physician_id == sa.bindparam("of_physician"),
        _TALLIES.c.paper_id == sa.bindparam("of_paper"),
    )
    .values(counts=True)
)


def retally(physician_id: int, paper_id: int) -> None:
    """Count the physician's attempts at the paper again, and which of their papers of its
    kind counts (the caller's unit commits): the recount, its rows stored in one upsert,
    then the one that counts marked (in the upsert itself when it is the physician's only
    paper of the kind). Statements, not ORM objects: a ``PaperTally`` loaded
    in this unit before is not refreshed (read it with ``populate_existing``)."""
    rows = (
        db.session.execute(_RECOUNT_ONE, {"physician_id": physician_id, "paper_id": paper_id})
        .mappings()
        .all()
    )
    if not rows:
        return
    # One paper of the kind (the usual case): its row is the physician's only one of the
    # kind, so it is stored with its ``counts`` at once; with several, ``counts`` is set
    # after all are stored false (the unique index allows one at any moment).
    alone = len(rows) == 1
    values = [
        {  # SQLite gives its booleans as 0 and 1
            name: bool(row[name]) if name in BOOLEANS else row[name] for name in COLUMNS
        }
        | {"counts": alone and bool(row["counts"])}
        for row in rows
    ]
    db.session.execute(_UPSERTS[db.session.get_bind().dialect.name], values)
    for row in rows:
        if row["counts"] and not alone:
            db.session.execute(_COUNTS, {"of_physician": physician_id, "of_paper": row["paper_id"]})
