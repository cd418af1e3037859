"""Read-side views of attempts for other features' pages: a physician's progress and
attempt records on the agency's roster pages (registered there by ``init_app``), and the
papers a physician passed, for the result notice (``results``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.attempts.operations import overview
from examsvc.enums import (
    AttemptStatus,
    Evaluation,
    PaperKind,
    Procedure,
    RegistrationStatus,
    WindowRound,
)
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.papers.models import ExamWindow, Paper, PaperAssignment
from examsvc.roster.models import Physician
from examsvc.roster.queries import PaperProgress, Progress

FINAL = {"exempt", "passed", "failed", "closed"}


def progress(physician: Physician, now: datetime) -> Progress:
    """The physician's current task and each paper's state, from the same computation as
    the physician's own 考核安排 page (``operations.overview``)."""
    if physician.status == RegistrationStatus.WITHDRAWN:
        return Progress(N_("已退出"), "fail", [], [])
    result = overview(physician, now)
    papers = [
        PaperProgress(s.paper.name, s.code, s.agency_label, s.remaining, s.best_score)
        for s in result.states
    ]
    codes = {p.code for p in papers}
    verdict = result.verdict
    if verdict.result == "pass":
        task, tone = N_("测评完成-合格"), "pass"
    elif verdict.result == "fail":
        task, tone = (N_("测评完成-不合格") if codes <= FINAL else N_("不合格")), "fail"
    elif "makeup_waiting" in codes:
        task, tone = N_("不合格-等待补考"), "fail"
    elif "in_progress" in codes:
        task, tone = N_("测评进行中"), "wait"
    elif papers and codes <= {"passed", "exempt"}:
        task, tone = N_("测评完成-等待评定"), "wait"  # the evaluations are still pending
    else:
        task, tone = N_("报名完成-等待测评"), "wait"
    return Progress(task, tone, papers, verdict.reasons)


def attempt_records(physician: Physician) -> list[tuple[Attempt, str]]:
    """Every attempt of the physician with its paper's name, oldest first."""
    rows = db.session.execute(
        sa.select(Attempt, Paper.name)
        .join(Paper, Paper.id == Attempt.paper_id)
        .where(Attempt.physician_id == physician.id)
        .order_by(Attempt.started_at, Attempt.id)
    ).all()
    return [(attempt, name) for attempt, name in rows]


@dataclass(frozen=True)
class PassedPaper:
    name: str
    exempt: bool  # 免考通过, else passed with ``best_score``
    best_score: float | None


def passed_papers(physician: Physician, now: datetime) -> list[PassedPaper] | None:
    """Each paper of a physician whose cycle's result is 合格, from the same computation as
    the physician's own pages (``operations.overview``); None while it is not 合格."""
    result = overview(physician, now)
    if result.verdict.result != "pass":
        return None
    return [PassedPaper(s.paper.name, s.code == "exempt", s.best_score) for s in result.states]


# --- the verdict in SQL -------------------------------------------------------------------
#
# ``rules.paper_state`` and ``rules.verdict`` as SQL over every physician, with ``now`` a
# bound parameter, so that progress and statistics count in the database instead of loading
# every physician. Both depend on time alone (a window closing turns 待考 into 缺考 or 不合格
# with nothing written), so they are computed, not stored. ``paper_states`` is one row per
# (physician, required paper) with a fine state; ``verdicts`` reduces it per physician. The
# same steps as ``papers.queries.papers_for``, ``rules.required_papers``, ``rules.paper_state``
# and ``rules.verdict``; tests/attempts/test_verdict_sql.py holds the two to the same answers.
#
# The attempts are read once, grouped by (physician, paper) (``_attempt_totals``), and joined:
# no subquery runs per physician, so a roster of 300,000 is counted in well under a second
# on PostgreSQL (docs/benchmarks.md).

# The fine states of a paper (``paper_states``) and the ``rules.paper_state`` code of each:
# the SQL tells apart what the agency counts apart (never sat in an open window, 缺考, a
# makeup open, the last attempt voided for a violation, withdrawn).
SQL_STATES = {
    "exempt": "exempt",
    "passed": "passed",
    "withdrawn": "closed",
    "in_progress": "in_progress",
    "locked": "locked",
    "not_started": "open",  # the regular window is open and no attempt made yet
    "open": "open",  # attempts made, some left, the regular window open
    "waiting": "waiting",
    "absent": "closed",  # 缺考: never sat, the window closed, no makeup
    "makeup_open": "open",
    "makeup_waiting": "makeup_waiting",
    "voided": "failed",  # no chance left, the last attempt voided (违纪终止)
    "failed": "failed",
}
DONE_STATES = ("exempt", "passed")
FAILED_STATES = ("absent", "voided", "failed")


def _attempt_totals() -> sa.Subquery:
    """Per (physician, paper): the attempts of each round, passed, in progress, the best
    score, when the latest (and the latest passed) started and whether the latest was voided."""
    W = ExamWindow
    latest = sa.func.max(Attempt.started_at)
    return (
        sa.select(
            Attempt.physician_id,
            Attempt.paper_id,
            sa.func.count().filter(W.round == WindowRound.REGULAR).label("regular"),
            sa.func.count().filter(W.round == WindowRound.MAKEUP).label("makeup"),
            sa.func.count().filter(Attempt.passed.is_(True)).label("passed"),
            sa.func.count().filter(Attempt.status == AttemptStatus.IN_PROGRESS).label("open"),
            sa.func.max(Attempt.score).label("best"),
            latest.label("latest"),
            sa.func.max(Attempt.started_at).filter(Attempt.passed.is_(True)).label("latest_passed"),
            sa.func.max(Attempt.started_at)
            .filter(Attempt.status == AttemptStatus.VOIDED)
            .label("latest_voided"),
        )
        .join(W, W.id == Attempt.window_id)
        .group_by(Attempt.physician_id, Attempt.paper_id)
    ).subquery("totals")


def _chosen_papers(totals: sa.Subquery) -> sa.Subquery:
    """``papers_for``, per physician and kind: the paper attempted (passed first, then the
    latest), from the totals; ``(physician_id, humanities, professional)``."""
    ranked = (
        sa.select(
            totals.c.physician_id,
            Paper.kind,
            totals.c.paper_id,
            sa.func.row_number()
            .over(
                partition_by=(totals.c.physician_id, Paper.kind),
                order_by=(
                    (totals.c.passed > 0).desc(),
                    sa.func.coalesce(totals.c.latest_passed, totals.c.latest).desc(),
                ),
            )
            .label("rank"),
        )
        .join(Paper, Paper.id == totals.c.paper_id)
        .join(Physician, Physician.id == totals.c.physician_id)
        .where(Paper.cycle_id == Physician.cycle_id)
    ).subquery("ranked")
    return (
        sa.select(
            ranked.c.physician_id,
            *(
                sa.func.max(ranked.c.paper_id).filter(ranked.c.kind == kind).label(kind.value)
                for kind in PaperKind
            ),
        )
        .where(ranked.c.rank == 1)
        .group_by(ranked.c.physician_id)
    ).subquery("started")


def _lists(column: Any, value: Any) -> Any:
    """``rules.serves`` on one JSON list column: empty (everyone) or holding ``value``. The
    lists hold enum words, so the JSON text is searched for the quoted word (portable:
    SQLite and PostgreSQL alike)."""
    text = sa.cast(column, sa.Text)
    return sa.or_(
        sa.func.replace(text, " ", "") == "[]",
        text.like(sa.literal('%"') + sa.cast(value, sa.Text) + sa.literal('"%')),
    )


def paper_states(now: datetime, *where: Any) -> sa.Subquery:
    """``(physician_id, paper_id, state, best)`` for every physician (``where``: conditions on
    ``Physician``) and paper they must sit: ``rules.paper_state`` in SQL at ``now``, as a fine
    state of ``SQL_STATES``, and the best score."""
    totals = _attempt_totals()
    started = _chosen_papers(totals)
    assigned = {
        kind: sa.orm.aliased(PaperAssignment, name=f"assigned_{kind.value}") for kind in PaperKind
    }
    chosen = sa.select(
        Physician.id.label("physician_id"),
        *(
            sa.func.coalesce(started.c[kind.value], assigned[kind].paper_id).label(kind.value)
            for kind in PaperKind
        ),
    ).outerjoin(started, started.c.physician_id == Physician.id)
    for kind, a in assigned.items():
        chosen = chosen.outerjoin(
            a,
            sa.and_(
                a.cycle_id == Physician.cycle_id,
                a.kind == kind,
                a.practice_category == Physician.practice_category,
                a.physician_level == Physician.physician_level,
            ),
        )
    own = chosen.where(*where).subquery("own")
    # rules.required_papers: humanities; the professional paper too in the general procedure.
    required = sa.union_all(
        sa.select(
            own.c.physician_id,
            own.c.humanities.label("paper_id"),
            own.c.humanities,
            own.c.professional,
        ),
        sa.select(own.c.physician_id, own.c.professional, own.c.humanities, own.c.professional)
        .join(Physician, Physician.id == own.c.physician_id)
        .where(Physician.procedure == Procedure.GENERAL),
    ).subquery("required")
    P, X = Physician, sa.orm.aliased(Paper, name="paper")
    prereq = sa.orm.aliased(Paper, name="prereq")
    mine, before = totals.alias("mine"), totals.alias("before")
    W = ExamWindow

    def window(round_: WindowRound, *where: Any) -> Any:
        return sa.exists().where(W.paper_id == X.id, W.round == round_, *where)

    # "Humanities before professional" is met by the physician's own paper of the
    # prerequisite's kind, else by the prerequisite itself (operations.overview).
    effective_prereq = sa.case(
        (prereq.kind == PaperKind.HUMANITIES, sa.func.coalesce(required.c.humanities, prereq.id)),
        else_=sa.func.coalesce(required.c.professional, prereq.id),
    )
    exempt = sa.or_(
        sa.and_(
            P.procedure == Procedure.SIMPLE, X.kind == PaperKind.HUMANITIES, P.exempt_humanities
        ),
        sa.and_(
            P.procedure == Procedure.GENERAL,
            X.kind == PaperKind.PROFESSIONAL,
            P.exempt_professional,
        ),
    )
    limit = sa.case(
        (P.procedure == Procedure.SIMPLE, X.attempt_limit_simple), else_=X.attempt_limit_general
    )
    used = sa.func.coalesce(mine.c.regular, 0)
    m_left = limit - sa.func.coalesce(mine.c.makeup, 0)
    current = window(WindowRound.REGULAR, W.opens_at <= now, W.closes_at > now)
    upcoming = window(WindowRound.REGULAR, W.opens_at > now)
    failed_regular = sa.or_(used >= limit, sa.and_(used > 0, ~current, ~upcoming))
    state = sa.case(
        (exempt, "exempt"),
        (mine.c.passed > 0, "passed"),
        (P.status != RegistrationStatus.APPROVED, "withdrawn"),
        (mine.c.open > 0, "in_progress"),
        (
            sa.and_(X.prerequisite_id.is_not(None), sa.func.coalesce(before.c.passed, 0) == 0),
            "locked",
        ),
        (sa.and_(~failed_regular, current, used == 0), "not_started"),
        (sa.and_(~failed_regular, current), "open"),
        (sa.and_(~failed_regular, upcoming), "waiting"),
        (sa.and_(~failed_regular, ~window(WindowRound.MAKEUP)), "absent"),
        (
            sa.and_(m_left > 0, window(WindowRound.MAKEUP, W.opens_at <= now, W.closes_at > now)),
            "makeup_open",
        ),
        (sa.and_(m_left > 0, window(WindowRound.MAKEUP, W.opens_at > now)), "makeup_waiting"),
        (mine.c.latest_voided == mine.c.latest, "voided"),
        else_="failed",
    )
    return (
        sa.select(
            required.c.physician_id,
            X.id.label("paper_id"),
            state.label("state"),
            mine.c.best.label("best"),
        )
        .join(P, P.id == required.c.physician_id)
        .join(X, X.id == required.c.paper_id)
        .outerjoin(prereq, prereq.id == X.prerequisite_id)
        .outerjoin(mine, sa.and_(mine.c.physician_id == P.id, mine.c.paper_id == X.id))
        .outerjoin(
            before, sa.and_(before.c.physician_id == P.id, before.c.paper_id == effective_prereq)
        )
        .where(
            _lists(X.practice_categories, P.practice_category),
            _lists(X.physician_levels, P.physician_level),
        )
    ).subquery("paper_states")


def verdicts(now: datetime, *where: Any) -> sa.Subquery:
    """``(physician_id, result)`` for every physician (``where``: conditions on
    ``Physician``): ``rules.verdict`` in SQL at ``now``, from ``paper_states``."""
    states = paper_states(now, *where)
    P = Physician
    per_physician = (
        sa.select(
            states.c.physician_id,
            sa.func.max(sa.case((states.c.state.in_(FAILED_STATES), 1), else_=0)).label("failed"),
            sa.func.max(sa.case((states.c.state.in_(DONE_STATES), 0), else_=1)).label("open"),
        ).group_by(states.c.physician_id)
    ).subquery("per_physician")
    evaluations = (P.eval_work_performance, P.eval_ethics)
    result = sa.case(
        (
            sa.or_(
                *(e == Evaluation.FAIL for e in evaluations),
                sa.func.coalesce(per_physician.c.failed, 0) == 1,
            ),
            "fail",
        ),
        (
            sa.or_(
                *(e == Evaluation.PENDING for e in evaluations),
                sa.func.coalesce(per_physician.c.open, 0) == 1,
            ),
            "pending",
        ),
        else_="pass",
    )
    return (
        sa.select(P.id.label("physician_id"), result.label("result"))
        .outerjoin(per_physician, per_physician.c.physician_id == P.id)
        .where(*where)
    ).subquery("verdicts")


def verdict_counts(cycle_id: int, now: datetime) -> dict[str, int]:
    """How many physicians of the cycle pass, fail and are pending, counted in the database."""
    v = verdicts(now, Physician.cycle_id == cycle_id)
    rows = db.session.execute(sa.select(v.c.result, sa.func.count()).group_by(v.c.result)).all()
    return {"pass": 0, "fail": 0, "pending": 0, **{r: n for r, n in rows}}
