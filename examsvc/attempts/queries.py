"""Read-side views of attempts for other features' pages: a physician's progress and
attempt records on the agency's roster pages (registered there by ``init_app``), and the
papers a physician passed, for the result notice (``results``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from examsvc.accounts.models import User
from examsvc.attempts.models import Attempt, PaperOverride
from examsvc.attempts.operations import overview
from examsvc.attempts.words import OVERRIDE_LABELS
from examsvc.enums import (
    AttemptStatus,
    Evaluation,
    OverrideKind,
    PaperKind,
    PhysicianLevel,
    PracticeCategory,
    Procedure,
    RegistrationStatus,
    WindowRound,
)
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.papers.models import ExamWindow, Paper, PaperAssignment
from examsvc.roster.models import Physician
from examsvc.roster.queries import OverrideRow, OverrideSection, PaperProgress, Progress

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
# with nothing written), so they are computed, not stored. The same steps as
# ``papers.queries.papers_for``, ``rules.required_papers``, ``rules.paper_state`` and
# ``rules.verdict``; tests/attempts/test_verdict_sql.py holds the two to the same answers.
#
# One row per physician (``physician_papers``): the physician's attempts are read once,
# grouped by physician with a column per kind of paper (``_tallies``), and joined to the
# roster; each kind's paper and state are columns of that row. ``paper_states`` and
# ``verdicts`` are read from it. So a roster of 300,000 is one pass over the physicians and
# one over their attempts (docs/benchmarks.md).

# The fine states of a paper and the ``rules.paper_state`` code of each: the SQL tells apart
# what the agency counts apart (never sat in an open window, 缺考, a makeup open, the last
# attempt voided for a violation, withdrawn).
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
    # 违纪终止: the regular round ended in a void and no admission to the makeup, or no
    # chance left and the last attempt voided
    "voided": "failed",
    "failed": "failed",
}
DONE_STATES = ("exempt", "passed")
FAILED_STATES = ("absent", "voided", "failed")
KINDS = {PaperKind.HUMANITIES: "h", PaperKind.PROFESSIONAL: "p"}  # column prefixes
# Per physician and paper: attempts in each round, passed, in progress, handed in, voided;
# the best score, when the latest attempt (and the latest voided one) started.
METRICS = ("regular", "makeup", "passed", "open", "submitted", "voided", "best", "latest")


def _metrics(prefix: str, *where: Any) -> list[Any]:
    """The aggregates of ``METRICS`` over the attempts that meet ``where``."""
    a, w = Attempt, ExamWindow

    def count(*also: Any) -> Any:
        return sa.func.count().filter(*where, *also) if where or also else sa.func.count()

    def top(column: Any, *also: Any) -> Any:
        return sa.func.max(column).filter(*where, *also) if where or also else sa.func.max(column)

    return [
        count(w.round == WindowRound.REGULAR).label(f"{prefix}regular"),
        count(w.round == WindowRound.MAKEUP).label(f"{prefix}makeup"),
        count(a.passed.is_(True)).label(f"{prefix}passed"),
        count(a.status == AttemptStatus.IN_PROGRESS).label(f"{prefix}open"),
        count(a.status == AttemptStatus.SUBMITTED).label(f"{prefix}submitted"),
        count(a.status == AttemptStatus.VOIDED).label(f"{prefix}voided"),
        top(a.score).label(f"{prefix}best"),
        top(a.started_at).label(f"{prefix}latest"),
        top(a.started_at, a.status == AttemptStatus.VOIDED).label(f"{prefix}latest_voided"),
        top(a.started_at, a.passed.is_(True)).label(f"{prefix}latest_passed"),
        # rules.regular_voided: the regular round's last attempt (by number) was voided.
        top(a.number, w.round == WindowRound.REGULAR).label(f"{prefix}regular_last"),
        top(a.number, w.round == WindowRound.REGULAR, a.status == AttemptStatus.VOIDED).label(
            f"{prefix}regular_last_voided"
        ),
    ]


def _tallies(*where: Any) -> sa.CTE:
    """Per physician (``where``: conditions on ``Physician``), per kind: the first and the
    last paper attempted (the same unless a paper was re-assigned after they started) and
    the ``METRICS`` of the attempts at papers of that kind of the physician's cycle."""
    columns: list[Any] = [Attempt.physician_id]
    for kind, k in KINDS.items():
        of_kind = Paper.kind == kind
        columns += [
            sa.func.min(Attempt.paper_id).filter(of_kind).label(f"{k}_first"),
            sa.func.max(Attempt.paper_id).filter(of_kind).label(f"{k}_last"),
            *_metrics(f"{k}_", of_kind),
        ]
    return (
        sa.select(*columns)
        .join(ExamWindow, ExamWindow.id == Attempt.window_id)
        .join(Paper, Paper.id == Attempt.paper_id)
        .join(Physician, Physician.id == Attempt.physician_id)
        .where(Paper.cycle_id == Physician.cycle_id, *where)
        .group_by(Attempt.physician_id)
    ).cte("tallies")


def _several(tallies: sa.CTE) -> sa.CTE:
    """``papers_for`` for the few physicians who attempted two papers of one kind: per
    physician and kind, the paper attempted (passed first, then the latest) and its
    ``METRICS``. Everyone else's paper is the one paper of the kind in ``_tallies``."""
    t = tallies.c
    who = sa.select(t.physician_id).where(
        sa.or_(*(t[f"{k}_first"] != t[f"{k}_last"] for k in KINDS.values()))
    )
    totals = (
        sa.select(Attempt.physician_id, Attempt.paper_id, Paper.kind, *_metrics(""))
        .join(ExamWindow, ExamWindow.id == Attempt.window_id)
        .join(Paper, Paper.id == Attempt.paper_id)
        .join(Physician, Physician.id == Attempt.physician_id)
        .where(Paper.cycle_id == Physician.cycle_id, Attempt.physician_id.in_(who))
        .group_by(Attempt.physician_id, Attempt.paper_id, Paper.kind)
    ).subquery("totals")
    rank = (
        sa.func.row_number()
        .over(
            partition_by=(totals.c.physician_id, totals.c.kind),
            order_by=(
                (totals.c.passed > 0).desc(),
                sa.func.coalesce(totals.c.latest_passed, totals.c.latest).desc(),
            ),
        )
        .label("rank")
    )
    ranked = sa.select(totals, rank).subquery("ranked")
    return (sa.select(*(c for c in ranked.c if c.key != "rank")).where(ranked.c.rank == 1)).cte(
        "several"
    )


def _lists(column: Any, value: Any) -> Any:
    """``rules.serves`` on one JSON list column: empty (everyone) or holding ``value``. The
    lists hold enum words, so the JSON text is searched for the quoted word (portable:
    SQLite and PostgreSQL alike)."""
    text = sa.cast(column, sa.Text)
    return sa.or_(
        sa.func.replace(text, " ", "") == "[]",
        text.like(sa.literal('%"') + sa.cast(value, sa.Text) + sa.literal('"%')),
    )


def _serving() -> sa.Select[Any]:
    """``rules.serves`` for every paper and every (category, level) — a small set each row
    is looked up in, instead of testing the lists on each physician's row."""
    slots = sa.union_all(
        *(
            sa.select(sa.literal(c.value).label("category"), sa.literal(v.value).label("level"))
            for c in PracticeCategory
            for v in PhysicianLevel
        )
    ).subquery("slots")
    return sa.select(Paper.id, slots.c.category, slots.c.level).where(
        _lists(Paper.practice_categories, slots.c.category),
        _lists(Paper.physician_levels, slots.c.level),
    )


def physician_papers(now: datetime, *where: Any) -> sa.Subquery:
    """One row per physician (``where``: conditions on ``Physician``): for each kind ``k``
    (``h`` humanities, ``p`` professional) the paper they must sit (``k_paper``, NULL when
    none), its fine state (``k_state``, of ``SQL_STATES``: ``rules.paper_state`` at ``now``),
    best score, attempts handed in and voided; and the verdict (``result``)."""
    tallies = _tallies(*where)
    several = _several(tallies)
    T, P, W = tallies.c, Physician, ExamWindow
    query = sa.select(P.id.label("physician_id")).outerjoin(tallies, T.physician_id == P.id)
    # Both kinds in one row each, so that each is joined once.
    names = ("paper_id", *METRICS, "latest_voided", "regular_last", "regular_last_voided")
    S = (
        sa.select(
            several.c.physician_id,
            *(
                sa.func.max(several.c[m]).filter(several.c.kind == kind).label(f"{k}_{m}")
                for kind, k in KINDS.items()
                for m in names
            ),
        ).group_by(several.c.physician_id)
    ).subquery("several_by_kind")
    A = PaperAssignment
    assigned = (
        sa.select(
            A.cycle_id,
            A.practice_category,
            A.physician_level,
            *(sa.func.max(A.paper_id).filter(A.kind == kind).label(k) for kind, k in KINDS.items()),
        ).group_by(A.cycle_id, A.practice_category, A.physician_level)
    ).subquery("assigned")
    query = query.outerjoin(S, S.c.physician_id == P.id)
    # The administrator's overrides that stand (rules.OverrideFacts), per physician and paper:
    # extra attempts, admitted to the makeup after a void; personal windows are those of
    # ``standing_windows``, each of its physician alone.
    O = PaperOverride  # noqa: E741
    standing = O.revoked_at.is_(None)
    overrides = (
        sa.select(
            O.physician_id,
            O.paper_id,
            sa.func.coalesce(
                sa.func.sum(O.attempts).filter(O.kind == OverrideKind.EXTRA_ATTEMPTS), 0
            ).label("extra"),
            sa.func.count().filter(O.kind == OverrideKind.MAKEUP_AFTER_VOID).label("admitted"),
        )
        .where(standing, O.kind.in_((OverrideKind.EXTRA_ATTEMPTS, OverrideKind.MAKEUP_AFTER_VOID)))
        .group_by(O.physician_id, O.paper_id)
    ).subquery("overrides")
    standing_windows = sa.select(O.window_id).where(standing, O.kind == OverrideKind.WINDOW)
    query = query.outerjoin(
        assigned,
        sa.and_(
            assigned.c.cycle_id == P.cycle_id,
            assigned.c.practice_category == P.practice_category,
            assigned.c.physician_level == P.physician_level,
        ),
    )
    own, metric = {}, {}
    for kind, k in KINDS.items():
        one = T[f"{k}_first"] == T[f"{k}_last"]
        started = sa.case((one, T[f"{k}_last"]), else_=S.c[f"{k}_paper_id"])
        own[kind] = sa.func.coalesce(started, assigned.c[k])
        metric[kind] = {m: sa.case((one, T[f"{k}_{m}"]), else_=S.c[f"{k}_{m}"]) for m in names[1:]}
    general = P.procedure == Procedure.GENERAL
    columns: list[Any] = []
    for kind, k in KINDS.items():
        X = sa.orm.aliased(Paper, name=f"paper_{k}")
        prereq = sa.orm.aliased(Paper, name=f"prereq_{k}")
        # rules.required_papers: humanities; the professional paper too in the general
        # procedure; a paper only for the categories and levels it serves.
        query = query.outerjoin(
            X,
            sa.and_(
                X.id == own[kind],
                general if kind == PaperKind.PROFESSIONAL else sa.true(),
                sa.tuple_(X.id, P.practice_category, P.physician_level).in_(_serving()),
            ),
        ).outerjoin(prereq, prereq.id == X.prerequisite_id)
        OV = overrides.alias(f"overrides_{k}")
        query = query.outerjoin(OV, sa.and_(OV.c.physician_id == P.id, OV.c.paper_id == X.id))
        mine = metric[kind]
        # "Humanities before professional" is met by the physician's own paper of the
        # prerequisite's kind (else by the prerequisite itself, never attempted then).
        before = sa.case(
            *((prereq.kind == other, metric[other]["passed"]) for other in KINDS),
        )

        def window(round_: WindowRound, *where: Any, X: Any = X) -> Any:
            # Everyone's windows, and the physician's personal ones while their override
            # stands.
            return sa.exists().where(
                W.paper_id == X.id,
                W.round == round_,
                sa.or_(
                    W.physician_id.is_(None),
                    sa.and_(W.physician_id == P.id, W.id.in_(standing_windows)),
                ),
                *where,
            )

        exempt = sa.or_(
            sa.and_(
                P.procedure == Procedure.SIMPLE,
                X.kind == PaperKind.HUMANITIES,
                P.exempt_humanities,
            ),
            sa.and_(
                P.procedure == Procedure.GENERAL,
                X.kind == PaperKind.PROFESSIONAL,
                P.exempt_professional,
            ),
        )
        limit = sa.case(
            (P.procedure == Procedure.SIMPLE, X.attempt_limit_simple),
            else_=X.attempt_limit_general,
        )
        extra = sa.func.coalesce(OV.c.extra, 0)
        used = sa.func.coalesce(mine["regular"], 0)
        # rules.makeup_left in a makeup window: its own limit (else the paper's), plus the
        # extra attempts the regular round left, less the makeup attempts made.
        m_left = (
            sa.func.coalesce(W.attempt_limit, limit)
            + extra
            - sa.case((used > limit, used - limit), else_=0)
            - sa.func.coalesce(mine["makeup"], 0)
        )
        # rules.regular_voided, and the agency did not admit the physician to the makeup.
        barred = sa.and_(
            mine["regular_last_voided"] == mine["regular_last"],
            sa.func.coalesce(OV.c.admitted, 0) == 0,
        )
        current = window(WindowRound.REGULAR, W.opens_at <= now, W.closes_at > now)
        upcoming = window(WindowRound.REGULAR, W.opens_at > now)
        # What the state is decided on, computed once per physician and kind (below).
        columns += [
            X.id.label(f"{k}_paper"),
            exempt.label(f"{k}_exempt"),
            sa.func.coalesce(mine["passed"], 0).label(f"{k}_passed"),
            sa.func.coalesce(mine["open"], 0).label(f"{k}_open"),
            sa.and_(X.prerequisite_id.is_not(None), sa.func.coalesce(before, 0) == 0).label(
                f"{k}_locked"
            ),
            (limit + extra).label(f"{k}_limit"),
            used.label(f"{k}_used"),
            current.label(f"{k}_current"),
            upcoming.label(f"{k}_upcoming"),
            window(WindowRound.MAKEUP).label(f"{k}_makeup"),
            window(WindowRound.MAKEUP, W.opens_at <= now, W.closes_at > now, m_left > 0).label(
                f"{k}_makeup_now"
            ),
            window(WindowRound.MAKEUP, W.opens_at > now, m_left > 0).label(f"{k}_makeup_later"),
            sa.func.coalesce(barred, False).label(f"{k}_barred"),
            (mine["latest_voided"] == mine["latest"]).label(f"{k}_voided_last"),
            mine["best"].label(f"{k}_best"),
            sa.func.coalesce(mine["submitted"], 0).label(f"{k}_submitted"),
            sa.func.coalesce(mine["voided"], 0).label(f"{k}_voided"),
        ]
    # Materialised: the facts are computed once per physician, however often they are read.
    facts = (
        query.add_columns(*columns, P.status, P.eval_work_performance, P.eval_ethics)
        .where(*where)
        .cte("paper_facts")
        .prefix_with("MATERIALIZED")
    )
    F = facts.c
    states = []
    for k in KINDS.values():

        def fact(name: str, k: str = k) -> Any:
            return F[f"{k}_{name}"]

        open_regular = ~sa.or_(
            fact("used") >= fact("limit"),
            sa.and_(fact("used") > 0, ~fact("current"), ~fact("upcoming")),
        )  # the regular round not over: attempts left and a window open or to come
        states.append(
            sa.case(
                (fact("paper").is_(None), None),  # no paper of this kind to sit
                (fact("exempt"), "exempt"),
                (fact("passed") > 0, "passed"),
                (F.status != RegistrationStatus.APPROVED, "withdrawn"),
                (fact("open") > 0, "in_progress"),
                (fact("locked"), "locked"),
                (sa.and_(open_regular, fact("current"), fact("used") == 0), "not_started"),
                (sa.and_(open_regular, fact("current")), "open"),
                (sa.and_(open_regular, fact("upcoming")), "waiting"),
                (sa.and_(open_regular, ~fact("makeup")), "absent"),
                (fact("barred"), "voided"),  # 违纪终止: no makeup unless admitted
                (fact("makeup_now"), "makeup_open"),
                (fact("makeup_later"), "makeup_waiting"),
                (fact("voided_last"), "voided"),
                else_="failed",
            )
        )
    failed = sa.or_(*(s.in_(FAILED_STATES) for s in states))
    open_ = sa.or_(*(sa.and_(s.is_not(None), s.not_in(DONE_STATES)) for s in states))
    result = verdict_result(
        sa.case((failed, 1), else_=0),
        sa.case((open_, 1), else_=0),
        (F.eval_work_performance, F.eval_ethics),
    )
    return sa.select(
        F.physician_id,
        *(
            col
            for k, state in zip(KINDS.values(), states, strict=True)
            for col in (
                F[f"{k}_paper"],
                state.label(f"{k}_state"),
                F[f"{k}_best"],
                F[f"{k}_submitted"],
                F[f"{k}_voided"],
            )
        ),
        result.label("result"),
    ).subquery("physician_papers")


def paper_states(now: datetime, *where: Any) -> sa.Subquery:
    """``(physician_id, paper_id, state, best)`` for every physician (``where``: conditions on
    ``Physician``) and paper they must sit: ``rules.paper_state`` in SQL at ``now``, as a fine
    state of ``SQL_STATES``, and the best score."""
    rows = physician_papers(now, *where)
    return sa.union_all(
        *(
            sa.select(
                rows.c.physician_id,
                rows.c[f"{k}_paper"].label("paper_id"),
                rows.c[f"{k}_state"].label("state"),
                rows.c[f"{k}_best"].label("best"),
            ).where(rows.c[f"{k}_state"].is_not(None))
            for k in KINDS.values()
        )
    ).subquery("paper_states")


def verdicts(now: datetime, *where: Any) -> sa.Subquery:
    """``(physician_id, result)`` for every physician (``where``: conditions on
    ``Physician``): ``rules.verdict`` in SQL at ``now``."""
    rows = physician_papers(now, *where)
    return sa.select(rows.c.physician_id, rows.c.result).subquery("verdicts")


def verdict_result(failed: Any, open_: Any, evaluations: tuple[Any, Any] | None = None) -> Any:
    """``rules.verdict``'s result (pass | fail | pending) on a row of ``Physician``, given
    per physician whether a required paper failed and whether one is not yet done (1, 0 or
    NULL for none: a physician with no paper to sit)."""
    evaluations = evaluations or (Physician.eval_work_performance, Physician.eval_ethics)
    return sa.case(
        (
            sa.or_(*(e == Evaluation.FAIL for e in evaluations), sa.func.coalesce(failed, 0) == 1),
            "fail",
        ),
        (
            sa.or_(
                *(e == Evaluation.PENDING for e in evaluations), sa.func.coalesce(open_, 0) == 1
            ),
            "pending",
        ),
        else_="pass",
    )


def verdict_counts(cycle_id: int, now: datetime) -> dict[str, int]:
    """How many physicians of the cycle pass, fail and are pending, counted in the database."""
    v = verdicts(now, Physician.cycle_id == cycle_id)
    rows = db.session.execute(sa.select(v.c.result, sa.func.count()).group_by(v.c.result)).all()
    return {"pass": 0, "fail": 0, "pending": 0, **{r: n for r, n in rows}}


# --- an administrator's overrides, as the roster's page of a physician lists them --------


def override_rows(physician: Physician, now: datetime) -> OverrideSection:
    """Every override of the physician, newest first (revoked ones too, marked), and the
    papers an administrator may grant one for (the physician's papers of the cycle)."""
    granted_by = sa.orm.aliased(User, name="granted_by_user")
    revoked_by = sa.orm.aliased(User, name="revoked_by_user")
    rows = db.session.execute(
        sa.select(PaperOverride, granted_by.display_name, revoked_by.display_name)
        .outerjoin(granted_by, granted_by.id == PaperOverride.granted_by)
        .outerjoin(revoked_by, revoked_by.id == PaperOverride.revoked_by)
        .where(PaperOverride.physician_id == physician.id)
        .order_by(PaperOverride.granted_at.desc(), PaperOverride.id.desc())
    ).all()
    papers = [(s.paper.id, s.paper.name) for s in overview(physician, now).states]
    return OverrideSection(
        [
            OverrideRow(
                o.id,
                o.paper.name,
                OVERRIDE_LABELS[o.kind.value],
                o.attempts,
                o.minutes,
                o.window,
                o.reason,
                granter,
                o.granted_at,
                revoker,
                o.revoked_at,
            )
            for o, granter, revoker in rows
        ],
        papers,
    )
