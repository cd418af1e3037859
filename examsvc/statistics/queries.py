"""Progress (考试进度) and statistics (考核统计) of a cycle, counted by the database.

Every figure is a condition on one row per physician of the filtered roster (``_people``),
built by SQL aggregation over stored state: the papers' states and the verdict
(``attempts.queries.paper_states``, ``verdict_result``), the attempts, the proctoring
flags (a snapshot of ``camera.rules.FLAGGING`` or an invigilator's warning) and the
delivered results. No physician is loaded to count; a drill-down lists the physicians
behind a figure from the same condition, so a list holds exactly the physicians counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.attempts.queries import (
    DONE_STATES,
    FAILED_STATES,
    paper_states,
    verdict_result,
)
from examsvc.camera.models import Snapshot
from examsvc.camera.rules import FLAGGING
from examsvc.enums import AttemptStatus, RegistrationStatus
from examsvc.extensions import db
from examsvc.invigilation.models import ProctorWarning
from examsvc.marks import N_
from examsvc.papers.models import Paper
from examsvc.results.models import DeliveryStatus, ResultDelivery
from examsvc.roster.models import Physician
from examsvc.statistics.schemas import StatisticsFilter

# The figures, in the order the pages show them, and their words.
LABELS = {
    "roster": N_("名单人数"),
    "not_started": N_("未开始"),
    "in_progress": N_("测评进行中"),
    "submitted": N_("已交卷"),
    "passed": N_("合格"),
    "failed": N_("不合格"),
    "pending": N_("尚无结果"),
    "absent": N_("缺考"),
    "voided": N_("违纪终止"),
    "exempt": N_("免考"),
    "flagged": N_("监考异常"),
    "delivered": N_("结果已回传"),
}
PROGRESS = ("roster", "not_started", "in_progress", "submitted", "absent", "voided", "exempt")
PROCTORING = ("flagged", "delivered")
RESULTS = ("roster", "passed", "failed", "pending")
# What each figure counts, for the pages' notes and the export.
NOTES = {
    "roster": N_("本周期报名完成的医师（已退出的不计）"),
    "not_started": N_("尚未参加任何测评，且仍可参加或等待考试开始"),
    "in_progress": N_("正在作答"),
    "submitted": N_("至少有一次测评已交卷"),
    "passed": N_("考核结果合格：两项评定合格，所需试卷均合格或免考"),
    "failed": N_("考核结果不合格：评定不合格，或试卷不合格、缺考"),
    "pending": N_("仍在测评、等待补考或等待评定"),
    "absent": N_("考试已结束而未参加"),
    "voided": N_("有测评被监考人员终止"),
    "exempt": N_("所需试卷均免考"),
    "flagged": N_("有异常抓拍（未检测到人脸、多人、非本人、遮挡、画面不清）或收到监考警告"),
    "delivered": N_("考核结果已写回登记系统"),
}
# The paper states in the order of the per-paper table (withdrawn physicians are not counted).
STATE_ORDER = (
    "exempt",
    "passed",
    "in_progress",
    "not_started",
    "open",
    "waiting",
    "locked",
    "makeup_open",
    "makeup_waiting",
    "failed",
    "voided",
    "absent",
)
NOT_STARTED_STATES = ("exempt", "not_started", "waiting", "locked")
SITTING_DECIDED = ("passed", "failed", "voided")  # a paper's pass rate: of those who sat it
BUCKETS = 10  # score bands of ten points, 90–100 the last


@dataclass
class PaperFigures:
    id: int
    code: str
    name: str
    states: dict[str, int] = field(default_factory=dict)
    scores: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def pass_rate(self) -> float | None:
        """Passed, of those who sat the paper and are decided (合格 + 不合格 + 违纪终止)."""
        sat = sum(self.states.get(s, 0) for s in SITTING_DECIDED)
        return self.states.get("passed", 0) / sat if sat else None


@dataclass
class Figures:
    counts: dict[str, int]
    papers: list[PaperFigures]

    @property
    def pass_rate(self) -> float | None:
        """合格率: passed, of the physicians whose result is decided."""
        decided = self.counts["passed"] + self.counts["failed"]
        return self.counts["passed"] / decided if decided else None


def _conditions(cycle_id: int, f: StatisticsFilter) -> list[Any]:
    """The filters on ``Physician`` (the paper's is on the states)."""
    p = Physician
    where = [p.cycle_id == cycle_id, p.status == RegistrationStatus.APPROVED]
    for value, column in (
        (f.institution, p.institution_code),
        (f.department, p.department),
        (f.category, p.practice_category),
        (f.level, p.physician_level),
        (f.procedure, p.procedure),
    ):
        if value is not None:
            where.append(column == value)
    return where


def _flagged_attempts() -> Any:
    """Attempts with a flagging snapshot or an invigilator's warning."""
    return sa.union(
        sa.select(Snapshot.attempt_id).where(Snapshot.status.in_(sorted(FLAGGING))),
        sa.select(ProctorWarning.attempt_id),
    )


def _people(cycle_id: int, f: StatisticsFilter, now: datetime) -> tuple[Any, dict[str, Any]]:
    """One row per physician of the filtered roster and, by figure, the condition on it."""
    where = _conditions(cycle_id, f)
    states = paper_states(now, *where)
    state = states.c.state
    scope = [states.c.paper_id == f.paper] if f.paper is not None else []

    def count(*conditions: Any) -> Any:
        return sa.func.count().filter(*scope, *conditions)

    per = (
        sa.select(
            states.c.physician_id,
            sa.func.max(sa.case((state.in_(FAILED_STATES), 1), else_=0)).label("failed"),
            sa.func.max(sa.case((state.in_(DONE_STATES), 0), else_=1)).label("open"),
            (count() if scope else sa.func.count()).label("papers"),
            count(state == "exempt").label("exempt"),
            count(state.in_(NOT_STARTED_STATES)).label("not_started"),
            count(state == "in_progress").label("in_progress"),
            count(state == "absent").label("absent"),
        ).group_by(states.c.physician_id)
    ).subquery("per")
    a = Attempt
    attempts = (
        sa.select(
            a.physician_id,
            sa.func.count().filter(a.status == AttemptStatus.SUBMITTED).label("submitted"),
            sa.func.count().filter(a.status == AttemptStatus.VOIDED).label("voided"),
            sa.func.count().filter(a.id.in_(_flagged_attempts())).label("flagged"),
        )
        .join(Paper, Paper.id == a.paper_id)
        .join(Physician, Physician.id == a.physician_id)
        .where(Paper.cycle_id == cycle_id, *where)
        .where(*([a.paper_id == f.paper] if f.paper is not None else []))
        .group_by(a.physician_id)
    ).subquery("tried")
    delivered = sa.select(ResultDelivery.physician_id).where(
        ResultDelivery.cycle_id == cycle_id, ResultDelivery.status == DeliveryStatus.DELIVERED
    )
    result = verdict_result(per.c.failed, per.c.open)
    people = (
        sa.select(
            Physician.id.label("physician_id"),
            result.label("result"),
            sa.func.coalesce(per.c.papers, 0).label("papers"),
            sa.func.coalesce(per.c.exempt, 0).label("exempt"),
            sa.func.coalesce(per.c.not_started, 0).label("not_started"),
            sa.func.coalesce(per.c.in_progress, 0).label("in_progress"),
            sa.func.coalesce(per.c.absent, 0).label("absent"),
            sa.func.coalesce(attempts.c.submitted, 0).label("submitted"),
            sa.func.coalesce(attempts.c.voided, 0).label("voided"),
            sa.func.coalesce(attempts.c.flagged, 0).label("flagged"),
            sa.case((Physician.id.in_(delivered), 1), else_=0).label("delivered"),
        )
        .outerjoin(per, per.c.physician_id == Physician.id)
        .outerjoin(attempts, attempts.c.physician_id == Physician.id)
        .where(*where)
        .where(*([per.c.papers > 0] if f.paper is not None else []))
    ).subquery("people")
    c = people.c
    conditions = {
        "roster": sa.true(),
        "not_started": sa.and_(c.papers > 0, c.not_started == c.papers, c.exempt < c.papers),
        "in_progress": c.in_progress > 0,
        "submitted": c.submitted > 0,
        "passed": c.result == "pass",
        "failed": c.result == "fail",
        "pending": c.result == "pending",
        "absent": c.absent > 0,
        "voided": c.voided > 0,
        "exempt": sa.and_(c.papers > 0, c.exempt == c.papers),
        "flagged": c.flagged > 0,
        "delivered": c.delivered == 1,
    }
    return people, conditions


def _band(score: Any) -> Any:
    """The score band 0–9 (ten points each; 100 is in 90–100)."""
    return sa.case(*((score >= 10 * b, b) for b in range(BUCKETS - 1, 0, -1)), else_=0)


def figures(cycle_id: int, f: StatisticsFilter, now: datetime) -> Figures:
    """Every figure, each paper's states and score bands: two queries."""
    people, conditions = _people(cycle_id, f, now)
    row = db.session.execute(
        sa.select(*(sa.func.count().filter(conditions[k]).label(k) for k in LABELS)).select_from(
            people
        )
    ).one()
    counts = {k: int(v or 0) for k, v in zip(LABELS, row, strict=True)}
    states = paper_states(now, *_conditions(cycle_id, f))
    band = _band(states.c.best)
    rows = db.session.execute(
        sa.select(states.c.paper_id, states.c.state, band, sa.func.count())
        .where(*([states.c.paper_id == f.paper] if f.paper is not None else []))
        .group_by(states.c.paper_id, states.c.state, band)
    ).all()
    papers = {
        p.id: PaperFigures(p.id, p.code, p.name)
        for p in db.session.scalars(
            sa.select(Paper)
            .where(Paper.id.in_({r[0] for r in rows}))
            .order_by(Paper.kind, Paper.code)
        )
    }
    for paper_id, state, bucket, n in rows:
        paper = papers[paper_id]
        paper.states[state] = paper.states.get(state, 0) + n
        if bucket is not None and state != "exempt":
            paper.scores[bucket] += n
    return Figures(counts, list(papers.values()))


@dataclass(frozen=True)
class Drill:
    """Which physicians a drill-down lists: a figure, or a paper's state or score band."""

    figure: str | None = None
    paper: int | None = None
    state: str | None = None
    band: int | None = None


def people(
    cycle_id: int, f: StatisticsFilter, drill: Drill, now: datetime, *, page: int, size: int
) -> tuple[int, list[Physician]]:
    """The physicians behind a number: how many, and one page of them by registration."""
    if drill.figure is not None:
        table, conditions = _people(cycle_id, f, now)
        ids = sa.select(table.c.physician_id).where(conditions[drill.figure])
    else:
        states = paper_states(now, *_conditions(cycle_id, f))
        where = [states.c.paper_id == drill.paper]
        if drill.state is not None:
            where.append(states.c.state == drill.state)
        if drill.band is not None:
            where += [states.c.state != "exempt", _band(states.c.best) == drill.band]
        ids = sa.select(states.c.physician_id).where(*where)
    chosen = ids.subquery("chosen")
    total = db.session.scalar(sa.select(sa.func.count()).select_from(chosen)) or 0
    rows = db.session.scalars(
        sa.select(Physician)
        .join(chosen, chosen.c.physician_id == Physician.id)
        .order_by(Physician.registration_id)
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    return total, list(rows)


def institutions(cycle_id: int) -> list[tuple[str, str]]:
    """The institutions of the cycle's roster, ``(code, name)`` by name, for the filter."""
    return [
        (code, name)
        for code, name in db.session.execute(
            sa.select(Physician.institution_code, sa.func.min(Physician.institution_name))
            .where(Physician.cycle_id == cycle_id)
            .group_by(Physician.institution_code)
            .order_by(sa.func.min(Physician.institution_name))
        )
    ]


def departments(cycle_id: int, institution: str) -> list[str]:
    """The departments of one institution, for the filter."""
    return list(
        db.session.scalars(
            sa.select(Physician.department)
            .where(
                Physician.cycle_id == cycle_id,
                Physician.institution_code == institution,
                Physician.department.is_not(None),
            )
            .group_by(Physician.department)
            .order_by(Physician.department)
        )
    )


def papers(cycle_id: int) -> list[Paper]:
    return list(
        db.session.scalars(
            sa.select(Paper).where(Paper.cycle_id == cycle_id).order_by(Paper.kind, Paper.code)
        )
    )
