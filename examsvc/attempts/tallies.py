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


# retally's recount, built once (a start runs it: building it each time cost ~1 ms). The
# paper's kind comes from an alias of papers, so that it does not correlate with recount's.
_PAPER = aliased(Paper)
_RECOUNT_ONE = recount(
    Attempt.physician_id == sa.bindparam("of_physician"),
    Paper.kind
    == sa.select(_PAPER.kind).where(_PAPER.id == sa.bindparam("of_paper")).scalar_subquery(),
)


_TALLIES = cast(sa.Table, PaperTally.__table__)
_RECOUNTED = _RECOUNT_ONE.add_columns(
    # the physician's papers of the kind attempted (the recount's rows)
    sa.func.count().over(partition_by=(Attempt.physician_id, Paper.kind)).label("of_kind")
).subquery("recounted")


def _store(dialect: Any) -> Any:
    """The recount stored in one ``INSERT … SELECT`` upsert built once, each stored paper's
    id returned. ``counts`` is stored at once when the row is the physician's only paper of
    its kind (the usual case); with several, all are stored false and the one that counts
    is marked after (``_COUNTS``): the unique index allows one at any moment."""
    r = _RECOUNTED
    insert = dialect.insert(_TALLIES).from_select(
        list(COLUMNS),
        sa.select(
            *(
                sa.and_(r.c.counts, r.c.of_kind == 1) if name == "counts" else r.c[name]
                for name in COLUMNS
            )
        ).where(sa.true()),  # SQLite: an upsert's SELECT needs a WHERE (its parser's ambiguity)
    )
    return insert.on_conflict_do_update(
        index_elements=[_TALLIES.c.physician_id, _TALLIES.c.paper_id],
        set_={name: insert.excluded[name] for name in COLUMNS[2:]},
    ).returning(_TALLIES.c.paper_id)


_STORES = {"sqlite": _store(sqlite), "postgresql": _store(postgresql)}
_COUNTS = (
    sa.update(_TALLIES)
    .where(
        _TALLIES.c.physician_id == sa.bindparam("of_physician"),
        _TALLIES.c.paper_id.in_(sa.select(_RECOUNTED.c.paper_id).where(_RECOUNTED.c.counts)),
    )
    .values(counts=True)
)


def retally(physician_id: int, paper_id: int) -> None:
    """Count the physician's attempts at the paper again, and which of their papers of its
    kind counts (the caller's unit commits): the recount stored by one statement, then,
    when the physician has several papers of the kind, the one that counts marked by a
    second. Statements, not ORM objects: a ``PaperTally`` loaded in this unit before is not
    refreshed (read it with ``populate_existing``)."""
    # not named as the table's columns: an UPDATE or INSERT would take them as values
    params = {"of_physician": physician_id, "of_paper": paper_id}
    stored = db.session.execute(_STORES[db.session.get_bind().dialect.name], params).all()
    if len(stored) > 1:
        db.session.execute(_COUNTS, params)
