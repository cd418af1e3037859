"""Progress (考试进度) and statistics (考核统计) of a cycle, counted by the database.

Every figure is a condition on one row per physician of the filtered roster (``_people``),
built by SQL aggregation over stored state: the papers' states and the verdict
(``attempts.queries.paper_states``, ``verdict_result``), the attempts, the proctoring
flags (a snapshot of ``camera.models.FLAGGING`` or an invigilator's warning) and the
delivered results. No physician is loaded to count; a drill-down lists the physicians
behind a figure from the same condition, so a list holds exactly the physicians counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.attempts.queries import KINDS, physician_papers
from examsvc.camera.models import FLAGGING, Snapshot
from examsvc.enums import RegistrationStatus
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
    """The filters on ``Physician`` (the paper's is on the paper columns)."""
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


def _reporting() -> None:
    """On PostgreSQL, for this transaction: no JIT (compiling the large state expressions
    costs more than it saves) and memory for the joins and sorts of a whole roster."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL jit = off"))
        db.session.execute(sa.text("SET LOCAL work_mem = '32MB'"))


def _flagged(cycle_id: int, paper: int | None) -> Any:
    """The physicians with an attempt (at ``paper``, or any of the cycle's) flagged by a
    snapshot of ``camera.models.FLAGGING`` or warned by an invigilator."""
    flagged = sa.union(
        sa.select(Snapshot.attempt_id).where(Snapshot.status.in_(sorted(FLAGGING))),
        sa.select(ProctorWarning.attempt_id),
    )
    return (
        sa.select(Attempt.physician_id)
        .join(Paper, Paper.id == Attempt.paper_id)
        .where(Paper.cycle_id == cycle_id, Attempt.id.in_(flagged))
        .where(*([Attempt.paper_id == paper] if paper is not None else []))
    )


def _people(cycle_id: int, f: StatisticsFilter, now: datetime) -> Any:
    """One row per physician of the filtered roster: for each kind ``k`` of paper in view
    (each kind, or the one of the paper filtered on; NULL otherwise) the paper, its state and
    score band, and whether an attempt at it was handed in or voided; the verdict; whether
    the physician was flagged and their result delivered. Every figure is a condition on
    these columns (``_conditions_on``), so that the figures are counted on the rows grouped
    (a few hundred) and a drill-down filters the rows themselves."""
    rows = physician_papers(now, *_conditions(cycle_id, f))
    c = rows.c
    delivered = sa.select(ResultDelivery.physician_id).where(
        ResultDelivery.cycle_id == cycle_id, ResultDelivery.status == DeliveryStatus.DELIVERED
    )
    columns: list[Any] = [c.physician_id, c.result]
    for k in KINDS.values():
        in_view = None if f.paper is None else c[f"{k}_paper"] == f.paper

        def scoped(column: Any, in_view: Any = in_view) -> Any:
            return column if in_view is None else sa.case((in_view, column))

        columns += [
            scoped(c[f"{k}_paper"]).label(f"{k}_paper"),
            scoped(c[f"{k}_state"]).label(f"{k}_state"),
            scoped(_band(c[f"{k}_best"])).label(f"{k}_band"),
            scoped(sa.case((c[f"{k}_submitted"] > 0, 1), else_=0)).label(f"{k}_submitted"),
            scoped(sa.case((c[f"{k}_voided"] > 0, 1), else_=0)).label(f"{k}_voided"),
        ]
    columns += [
        sa.case((c.physician_id.in_(_flagged(cycle_id, f.paper)), 1), else_=0).label("flagged"),
        sa.case((c.physician_id.in_(delivered), 1), else_=0).label("delivered"),
    ]
    people = sa.select(*columns)
    if f.paper is not None:
        people = people.where(sa.or_(*(c[f"{k}_paper"] == f.paper for k in KINDS.values())))
    return people.subquery("people")


def _conditions_on(c: Any) -> dict[str, Any]:
    """By figure, its condition on a row of ``_people`` (or of those rows grouped)."""
    kinds = list(KINDS.values())
    state = {k: c[f"{k}_state"] for k in kinds}

    def any_(test: Any) -> Any:
        return sa.or_(*(sa.and_(state[k].is_not(None), test(k)) for k in kinds))

    def all_(states: tuple[str, ...]) -> Any:
        return sa.and_(
            any_(lambda k: sa.true()),
            *(sa.or_(state[k].is_(None), state[k].in_(states)) for k in kinds),
        )

    return {
        "roster": sa.true(),
        "not_started": sa.and_(all_(NOT_STARTED_STATES), ~all_(("exempt",))),
        "in_progress": any_(lambda k: state[k] == "in_progress"),
        "submitted": any_(lambda k: c[f"{k}_submitted"] == 1),
        "passed": c.result == "pass",
        "failed": c.result == "fail",
        "pending": c.result == "pending",
        "absent": any_(lambda k: state[k] == "absent"),
        "voided": any_(lambda k: c[f"{k}_voided"] == 1),
        "exempt": all_(("exempt",)),
        "flagged": c.flagged == 1,
        "delivered": c.delivered == 1,
    }


def _band(score: Any) -> Any:
    """The score band 0–9 (ten points each; 100 is in 90–100); NULL without a score."""
    return sa.case(
        (score.is_(None), None), *((score >= 10 * b, b) for b in range(BUCKETS - 1, 0, -1)), else_=0
    )


def figures(cycle_id: int, f: StatisticsFilter, now: datetime) -> Figures:
    """Every figure, each paper's states and score bands, in one query: the physicians
    grouped by everything the figures look at (a few hundred groups), each group's figures
    decided in SQL, then the groups summed."""
    _reporting()
    people = _people(cycle_id, f, now)
    keys = [col for col in people.c if col.key != "physician_id"]
    grouped = sa.select(*keys, sa.func.count().label("n")).group_by(*keys).subquery("grouped")
    g = grouped.c
    conditions = _conditions_on(g)
    paper_columns = [
        g[f"{k}_{what}"] for k in KINDS.values() for what in ("paper", "state", "band")
    ]
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    if postgresql:
        # Group by hashing: the planner cannot estimate how many rows a paper filter keeps
        # (the paper each physician sits is computed), takes them for a few and sorts
        # 300,000 to group them, three times slower (docs/benchmarks.md).
        db.session.execute(sa.text("SET LOCAL enable_sort = off"))
    found = db.session.execute(
        sa.select(
            g.n,
            *(sa.case((cond, 1), else_=0) for cond in conditions.values()),
            *paper_columns,
        )
    ).all()
    if postgresql:
        db.session.execute(sa.text("SET LOCAL enable_sort = on"))
    counts = dict.fromkeys(LABELS, 0)
    by_paper: dict[int, PaperFigures] = {}
    for row in found:
        n = row[0]
        for i, key in enumerate(conditions, start=1):
            counts[key] += n * row[i]
        rest = row[1 + len(conditions) :]
        for j in range(len(KINDS)):
            paper_id, state, band = rest[3 * j : 3 * j + 3]
            if paper_id is None or state is None:
                continue
            paper = by_paper.setdefault(paper_id, PaperFigures(paper_id, "", ""))
            paper.states[state] = paper.states.get(state, 0) + n
            if band is not None and state != "exempt":
                paper.scores[band] += n
    for p in db.session.scalars(sa.select(Paper).where(Paper.id.in_(by_paper))):
        by_paper[p.id].code, by_paper[p.id].name = p.code, p.name
    return Figures(counts, sorted(by_paper.values(), key=lambda p: p.code))


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
    _reporting()
    table = _people(cycle_id, f, now)
    conditions = _conditions_on(table.c)
    if drill.figure is not None:
        where = [conditions[drill.figure]]
    else:
        where = [
            sa.or_(
                *(
                    sa.and_(
                        table.c[f"{k}_paper"] == drill.paper,
                        *([table.c[f"{k}_state"] == drill.state] if drill.state else []),
                        *(
                            [table.c[f"{k}_state"] != "exempt", table.c[f"{k}_band"] == drill.band]
                            if drill.band is not None
                            else []
                        ),
                    )
                    for k in KINDS.values()
                )
            )
        ]
    chosen = sa.select(table.c.physician_id).where(*where).subquery("chosen")
    # The page and the count in one pass (the count only again for a page past the end).
    found = db.session.execute(
        sa.select(Physician, sa.func.count().over())
        .join(chosen, chosen.c.physician_id == Physician.id)
        .order_by(Physician.registration_id)
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    if found:
        return found[0][1], [p for p, _ in found]
    return db.session.scalar(sa.select(sa.func.count()).select_from(chosen)) or 0, []


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
