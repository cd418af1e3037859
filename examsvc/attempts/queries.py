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
# ``rules.verdict`` (pass | fail | pending) as one SQL expression per physician, with ``now``
# a bound parameter, so that progress and statistics count verdicts in the database instead
# of loading every physician. It depends on time alone (a window closing turns 待考 into 缺考
# or 不合格 with nothing written), so it is computed, not stored. The same steps as
# ``papers.queries.papers_for``, ``rules.required_papers``, ``rules.paper_state`` and
# ``rules.verdict``; tests/attempts/test_verdict_sql.py holds the two to the same answers.


def _chosen_paper(kind: PaperKind) -> Any:
    """``papers_for``: the paper of ``kind`` the physician has attempted (passed first, then
    the latest), else the one assigned to their category and level; NULL when none."""
    started = (
        sa.select(Attempt.paper_id)
        .join(Paper, Paper.id == Attempt.paper_id)
        .where(
            Attempt.physician_id == Physician.id,
            Paper.cycle_id == Physician.cycle_id,
            Paper.kind == kind,
        )
        .order_by(sa.func.coalesce(Attempt.passed, sa.false()).desc(), Attempt.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    assigned = (
        sa.select(PaperAssignment.paper_id)
        .where(
            PaperAssignment.cycle_id == Physician.cycle_id,
            PaperAssignment.kind == kind,
            PaperAssignment.practice_category == Physician.practice_category,
            PaperAssignment.physician_level == Physician.physician_level,
        )
        .limit(1)
        .scalar_subquery()
    )
    return sa.func.coalesce(started, assigned)


def _lists(column: Any, value: Any) -> Any:
    """``rules.serves`` on one JSON list column: empty (everyone) or holding ``value``. The
    lists hold enum words, so the JSON text is searched for the quoted word (portable:
    SQLite and PostgreSQL alike)."""
    text = sa.cast(column, sa.Text)
    return sa.or_(
        sa.func.replace(text, " ", "") == "[]",
        text.like(sa.literal('%"') + sa.cast(value, sa.Text) + sa.literal('"%')),
    )


def verdicts(now: datetime) -> sa.Subquery:
    """``(physician_id, result)`` for every physician: ``rules.verdict`` in SQL at ``now``."""
    own = (
        sa.select(
            Physician.id.label("physician_id"),
            _chosen_paper(PaperKind.HUMANITIES).label("humanities"),
            _chosen_paper(PaperKind.PROFESSIONAL).label("professional"),
        )
    ).subquery("own")
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
    W = ExamWindow
    AW = sa.orm.aliased(ExamWindow, name="attempt_window")  # an attempt's own window
    O = PaperOverride  # noqa: E741

    def attempts(*where: Any) -> Any:
        return (
            sa.select(sa.func.count(Attempt.id))
            .join(AW, AW.id == Attempt.window_id)
            .where(Attempt.physician_id == P.id, Attempt.paper_id == X.id, *where)
            .correlate_except(Attempt, AW)  # P and X also from inside window(...)
            .scalar_subquery()
        )

    def granted(kind: OverrideKind) -> tuple[Any, ...]:
        """An override of ``kind`` for the physician and paper that stands (not revoked)."""
        return (O.physician_id == P.id, O.paper_id == X.id, O.kind == kind, O.revoked_at.is_(None))

    def window(round_: WindowRound, *where: Any) -> Any:
        # Everyone's windows, and the physician's personal ones while their override stands.
        personal = sa.and_(
            W.physician_id == P.id,
            sa.exists()
            .where(*granted(OverrideKind.WINDOW), O.window_id == W.id)
            .correlate_except(O),
        )
        return sa.exists().where(
            W.paper_id == X.id,
            W.round == round_,
            sa.or_(W.physician_id.is_(None), personal),
            *where,
        )

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
    extra = sa.func.coalesce(
        sa.select(sa.func.sum(O.attempts))
        .where(*granted(OverrideKind.EXTRA_ATTEMPTS))
        .correlate_except(O)
        .scalar_subquery(),
        0,
    )
    used = attempts(AW.round == WindowRound.REGULAR)
    # rules.makeup_left: the window's own limit (else the paper's), plus the extra attempts
    # the regular round left, less the makeup attempts made.
    m_left = (
        sa.func.coalesce(W.attempt_limit, limit)
        + extra
        - sa.case((used > limit, used - limit), else_=0)
        - attempts(AW.round == WindowRound.MAKEUP)
    )
    # rules.regular_voided: the regular round's last attempt was voided (违纪终止).
    later = sa.orm.aliased(Attempt, name="later")
    voided_last = (
        sa.select(Attempt.id)
        .join(AW, AW.id == Attempt.window_id)
        .where(
            Attempt.physician_id == P.id,
            Attempt.paper_id == X.id,
            AW.round == WindowRound.REGULAR,
            Attempt.status == AttemptStatus.VOIDED,
            ~sa.select(later.id)
            .join(W, W.id == later.window_id)
            .where(
                later.physician_id == Attempt.physician_id,
                later.paper_id == Attempt.paper_id,
                later.number > Attempt.number,
                W.round == WindowRound.REGULAR,
            )
            .exists(),
        )
        .exists()
    )
    barred = sa.and_(voided_last, ~sa.exists().where(*granted(OverrideKind.MAKEUP_AFTER_VOID)))
    current = window(WindowRound.REGULAR, W.opens_at <= now, W.closes_at > now)
    upcoming = window(WindowRound.REGULAR, W.opens_at > now)
    failed_regular = sa.or_(used >= limit + extra, sa.and_(used > 0, ~current, ~upcoming))
    # Each required paper's state as the verdict sees it: ok (passed, exempt), fail
    # (failed, or never sat and closed), open (anything still to come).
    state = sa.case(
        (exempt, "ok"),
        (attempts(Attempt.passed.is_(True)) > 0, "ok"),
        (P.status != RegistrationStatus.APPROVED, "open"),  # withdrawn: no reason given
        (attempts(Attempt.status == AttemptStatus.IN_PROGRESS) > 0, "open"),
        (
            sa.and_(
                X.prerequisite_id.is_not(None),
                ~sa.exists().where(
                    Attempt.physician_id == P.id,
                    Attempt.paper_id == effective_prereq,
                    Attempt.passed.is_(True),
                ),
            ),
            "open",  # locked
        ),
        (sa.and_(~failed_regular, sa.or_(current, upcoming)), "open"),
        (sa.and_(~failed_regular, ~window(WindowRound.MAKEUP)), "fail"),  # 缺考
        (
            sa.and_(
                ~barred,
                window(WindowRound.MAKEUP, W.closes_at > now, m_left > 0),  # now or to come
            ),
            "open",
        ),
        else_="fail",
    )
    states = (
        sa.select(required.c.physician_id, state.label("state"))
        .join(P, P.id == required.c.physician_id)
        .join(X, X.id == required.c.paper_id)
        .outerjoin(prereq, prereq.id == X.prerequisite_id)
        .where(
            _lists(X.practice_categories, P.practice_category),
            _lists(X.physician_levels, P.physician_level),
        )
    ).subquery("states")
    per_physician = (
        sa.select(
            states.c.physician_id,
            sa.func.max(sa.case((states.c.state == "fail", 1), else_=0)).label("failed"),
            sa.func.max(sa.case((states.c.state == "open", 1), else_=0)).label("open"),
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
        sa.select(P.id.label("physician_id"), result.label("result")).outerjoin(
            per_physician, per_physician.c.physician_id == P.id
        )
    ).subquery("verdicts")


def verdict_counts(cycle_id: int, now: datetime) -> dict[str, int]:
    """How many physicians of the cycle pass, fail and are pending, counted in the database."""
    v = verdicts(now)
    rows = db.session.execute(
        sa.select(v.c.result, sa.func.count())
        .join(Physician, Physician.id == v.c.physician_id)
        .where(Physician.cycle_id == cycle_id)
        .group_by(v.c.result)
    ).all()
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
