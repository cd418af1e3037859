"""Read-side views of attempts for other features' pages: a physician's progress and
attempt records on the agency's roster pages (registered there by ``init_app``), and the
papers a physician passed, for the result notice (``results``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from examsvc.accounts.models import User
from examsvc.attempts.models import Attempt, PaperOverride, PaperTally
from examsvc.attempts.operations import overview
from examsvc.attempts.words import OVERRIDE_LABELS
from examsvc.enums import (
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
from examsvc.papers.queries import counting_paper
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
# ``papers.queries.counting_papers``, ``rules.required_papers``, ``rules.paper_state`` and
# ``rules.verdict``; tests/attempts/test_verdict_sql.py holds the two to the same answers.
#
# One row per physician (``physician_papers``): each kind's paper, state and verdict are
# columns of that row. The attempts are not read: their counts per physician and paper are
# stored (``models.PaperTally``, kept by the operations, ``tallies.retally``) and joined,
# one row per kind, to the roster. What depends on ``now`` — which windows are open, to
# come, with attempts left — is decided here over those columns and a few rows per paper
# (``_windows``). So a roster of 300,000 is one pass over the physicians joined to their
# tallies (docs/benchmarks.md). ``paper_states`` and ``verdicts`` are read from it.

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


WINDOW_FACTS = (
    "regular_now",
    "regular_later",
    "makeup",
    "makeup_now_own",
    "makeup_now_paper",
    "makeup_later_own",
    "makeup_later_paper",
)


def _window_facts(now: datetime) -> list[Any]:
    """What the states read of a set of windows at ``now`` (``WINDOW_FACTS``): regular
    windows open and to come; makeup windows at all; makeup windows open and to come, with
    the highest own limit among them (``ExamWindow.attempt_limit``) and how many take the
    paper's limit."""
    W = ExamWindow
    regular, makeup = W.round == WindowRound.REGULAR, W.round == WindowRound.MAKEUP
    when = {"now": sa.and_(W.opens_at <= now, W.closes_at > now), "later": W.opens_at > now}
    columns: list[Any] = [
        sa.func.count().filter(regular, when["now"]).label("regular_now"),
        sa.func.count().filter(regular, when["later"]).label("regular_later"),
        sa.func.count().filter(makeup).label("makeup"),
    ]
    for name, at in when.items():
        columns += [
            sa.func.max(W.attempt_limit).filter(makeup, at).label(f"makeup_{name}_own"),
            sa.func.count()
            .filter(makeup, at, W.attempt_limit.is_(None))
            .label(f"makeup_{name}_paper"),
        ]
    return columns


def _windows(now: datetime) -> sa.Subquery:
    """Per paper, everyone's windows (``physician_id`` NULL) at ``now``: ``WINDOW_FACTS``."""
    W = ExamWindow
    return (
        sa.select(W.paper_id, *_window_facts(now))
        .where(W.physician_id.is_(None))
        .group_by(W.paper_id)
    ).subquery("paper_windows")


def _specials(now: datetime) -> sa.Subquery:
    """Per physician and paper, what the administrator's overrides that stand add
    (``rules.OverrideFacts``): extra attempts, admitted to the makeup after a void, and the
    personal windows at ``now`` (``WINDOW_FACTS``). Few rows; one join per kind."""
    W, O = ExamWindow, PaperOverride  # noqa: E741
    standing = O.revoked_at.is_(None)
    windows = (
        sa.select(
            W.physician_id,
            W.paper_id,
            *_window_facts(now),
            sa.literal(0).label("extra"),
            sa.literal(0).label("admitted"),
        )
        .where(
            W.physician_id.is_not(None),
            W.id.in_(sa.select(O.window_id).where(standing, O.kind == OverrideKind.WINDOW)),
        )
        .group_by(W.physician_id, W.paper_id)
    )
    overrides = (
        sa.select(
            O.physician_id,
            O.paper_id,
            *(sa.null().cast(sa.Integer).label(name) for name in WINDOW_FACTS),
            sa.func.coalesce(
                sa.func.sum(O.attempts).filter(O.kind == OverrideKind.EXTRA_ATTEMPTS), 0
            ).label("extra"),
            sa.func.count().filter(O.kind == OverrideKind.MAKEUP_AFTER_VOID).label("admitted"),
        )
        .where(
            standing,
            O.kind.in_((OverrideKind.EXTRA_ATTEMPTS, OverrideKind.MAKEUP_AFTER_VOID)),
        )
        .group_by(O.physician_id, O.paper_id)
    )
    both = sa.union_all(windows, overrides).subquery("specials_rows")
    c = both.c
    return (
        sa.select(
            c.physician_id,
            c.paper_id,
            *(
                (sa.func.max if name.endswith("_own") else sa.func.sum)(c[name]).label(name)
                for name in (*WINDOW_FACTS, "extra", "admitted")
            ),
        ).group_by(c.physician_id, c.paper_id)
    ).subquery("specials")


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
    P, A = Physician, PaperAssignment
    assigned = (
        sa.select(
            A.cycle_id,
            A.practice_category,
            A.physician_level,
            *(sa.func.max(A.paper_id).filter(A.kind == kind).label(k) for kind, k in KINDS.items()),
        ).group_by(A.cycle_id, A.practice_category, A.physician_level)
    ).subquery("assigned")
    windows, specials = _windows(now), _specials(now)
    query = sa.select(P.id.label("physician_id")).outerjoin(
        assigned,
        sa.and_(
            assigned.c.cycle_id == P.cycle_id,
            assigned.c.practice_category == P.practice_category,
            assigned.c.physician_level == P.physician_level,
        ),
    )
    # The paper of each kind attempted that counts (stored: ``tallies.recount`` ranks them by
    # ``papers.queries.counting_order``), else the assigned (``counting_paper``).
    tally = {}
    for kind, k in KINDS.items():
        T = sa.orm.aliased(PaperTally, name=f"tally_{k}")
        query = query.outerjoin(T, sa.and_(T.physician_id == P.id, T.kind == kind, T.counts))
        tally[kind] = T
    general = P.procedure == Procedure.GENERAL
    columns: list[Any] = []
    for kind, k in KINDS.items():
        T = tally[kind]
        X = sa.orm.aliased(Paper, name=f"paper_{k}")
        prereq = sa.orm.aliased(Paper, name=f"prereq_{k}")
        everyone = windows.alias(f"windows_{k}")
        personal = specials.alias(f"specials_{k}")  # and the personal windows
        # rules.required_papers: humanities; the professional paper too in the general
        # procedure; a paper only for the categories and levels it serves.
        query = (
            query.outerjoin(
                X,
                sa.and_(
                    X.id == counting_paper(T.paper_id, assigned.c[k]),
                    general if kind == PaperKind.PROFESSIONAL else sa.true(),
                    sa.tuple_(X.id, P.practice_category, P.physician_level).in_(_serving()),
                ),
            )
            .outerjoin(prereq, prereq.id == X.prerequisite_id)
            .outerjoin(
                everyone,
                everyone.c.paper_id == X.id,
            )
            .outerjoin(
                personal,
                sa.and_(personal.c.paper_id == X.id, personal.c.physician_id == P.id),
            )
        )

        def windows_of(name: str, everyone: Any = everyone, personal: Any = personal) -> Any:
            """Windows of a sort, everyone's and the physician's own together."""
            return sa.func.coalesce(everyone.c[name], 0) + sa.func.coalesce(personal.c[name], 0)

        # "Humanities before professional" is met by the physician's own paper of the
        # prerequisite's kind (else by the prerequisite itself, never attempted then).
        before = sa.case(*((prereq.kind == other, tally[other].passed) for other in KINDS))
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
        extra = sa.func.coalesce(personal.c.extra, 0)
        used = sa.func.coalesce(T.regular_used, 0)
        # rules.makeup_left(w) = (w's own limit, else the paper's) - need: the extra attempts
        # the regular round left, less the makeup attempts made. A makeup window open (or to
        # come) has attempts left when the highest own limit among them, or the paper's limit
        # for one without, exceeds ``need``.
        need = (
            sa.case((used > limit, used - limit), else_=0)
            + sa.func.coalesce(T.makeup_used, 0)
            - extra
        )

        makeup_left = {
            when: sa.func.coalesce(
                sa.or_(
                    everyone.c[f"makeup_{when}_own"] > need,
                    personal.c[f"makeup_{when}_own"] > need,
                    sa.and_(windows_of(f"makeup_{when}_paper") > 0, limit > need),
                ),
                False,
            )
            for when in ("now", "later")
        }

        # What the state is decided on, computed once per physician and kind (below).
        columns += [
            X.id.label(f"{k}_paper"),
            exempt.label(f"{k}_exempt"),
            sa.func.coalesce(T.passed, False).label(f"{k}_passed"),
            sa.func.coalesce(T.in_progress, 0).label(f"{k}_open"),
            sa.and_(X.prerequisite_id.is_not(None), ~sa.func.coalesce(before, False)).label(
                f"{k}_locked"
            ),
            (limit + extra).label(f"{k}_limit"),
            used.label(f"{k}_used"),
            (windows_of("regular_now") > 0).label(f"{k}_current"),
            (windows_of("regular_later") > 0).label(f"{k}_upcoming"),
            (windows_of("makeup") > 0).label(f"{k}_makeup"),
            makeup_left["now"].label(f"{k}_makeup_now"),
            makeup_left["later"].label(f"{k}_makeup_later"),
            # rules.regular_voided, and the agency did not admit the physician to the makeup.
            sa.and_(
                sa.func.coalesce(T.last_regular_voided, False),
                sa.func.coalesce(personal.c.admitted, 0) == 0,
            ).label(f"{k}_barred"),
            sa.func.coalesce(T.last_voided, False).label(f"{k}_voided_last"),
            T.best_score.label(f"{k}_best"),
            sa.func.coalesce(T.submitted, 0).label(f"{k}_submitted"),
            sa.func.coalesce(T.voided, 0).label(f"{k}_voided"),
        ]
    # Each stage is computed once per physician, however often the next one reads it:
    # ``OFFSET 0`` keeps the database from folding a stage's expressions into the next
    # (PostgreSQL would evaluate them again at every use), without writing the rows out.
    facts = (
        query.add_columns(
            *columns, general.label("general"), P.status, P.eval_work_performance, P.eval_ethics
        )
        .where(*where)
        .subquery("paper_facts")
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
                (fact("passed"), "passed"),
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
    decided = (
        sa.select(
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
            # rules.verdict: a required kind with no paper to sit (none assigned yet).
            sa.or_(F.h_paper.is_(None), sa.and_(F.general, F.p_paper.is_(None))).label("missing"),
            F.eval_work_performance,
            F.eval_ethics,
        )
        .offset(0)
        .subquery("paper_decided")
    )
    D = decided.c
    kind_states = [D[f"{k}_state"] for k in KINDS.values()]
    failed = sa.or_(*(s.in_(FAILED_STATES) for s in kind_states))
    open_ = sa.or_(
        D.missing, *(sa.and_(s.is_not(None), s.not_in(DONE_STATES)) for s in kind_states)
    )
    result = verdict_result(
        sa.case((failed, 1), else_=0),
        sa.case((open_, 1), else_=0),
        (D.eval_work_performance, D.eval_ethics),
    )
    return sa.select(
        *(c for c in D if c.key not in ("missing", "eval_work_performance", "eval_ethics")),
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
