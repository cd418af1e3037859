"""Read-side helpers: the current cycle, a physician's registration, their progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from examsvc.enums import RegistrationStatus, WindowRound
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.roster.models import Cycle, Physician


def current_cycle() -> Cycle | None:
    """The cycle being examined: the configured one, else the latest to start."""
    from flask import current_app

    code = current_app.config.get("REGISTRY_CYCLE")
    query = sa.select(Cycle)
    query = query.where(Cycle.code == code) if code else query.order_by(Cycle.starts_on.desc())
    return db.session.scalars(query.limit(1)).first()


def current_physician(user_id: int) -> Physician | None:
    """The logged-in physician's registration in the current cycle."""
    cycle = current_cycle()
    if cycle is None:
        return None
    return db.session.scalars(
        sa.select(Physician).where(Physician.user_id == user_id, Physician.cycle_id == cycle.id)
    ).first()


# --- progress, as the agency sees it (the states come from examsvc.attempts) ------------

# What each paper state is called on the agency's pages (the candidate's page shows a
# button where the agency needs a state: "进入测评" becomes "可以测评").
PAPER_STATE_ZH = {
    "exempt": N_("免考通过"),
    "passed": N_("合格"),
    "in_progress": N_("测评进行中"),
    "open": N_("可以测评"),
    "waiting": N_("等待考试开始"),
    "locked": N_("等待医学人文测评合格"),
    "failed": N_("不合格"),
    "makeup_waiting": N_("不合格-等待补考"),
}
FINAL = {"exempt", "passed", "failed", "closed"}


@dataclass(frozen=True)
class PaperProgress:
    name: str
    code: str  # rules.PaperState.code
    label: str
    remaining: int
    best_score: float | None


@dataclass(frozen=True)
class Progress:
    task: str  # 当前任务, in the manuals' words
    tone: str  # pass | fail | wait (the badge's colour)
    papers: list[PaperProgress]
    reasons: list[str]


def progress(physician: Physician, now: datetime) -> Progress:
    """The physician's current task and each paper's state, from the same computation as
    the physician's own 考核安排 page (``attempts.operations.overview``)."""
    from examsvc.attempts.operations import overview

    if physician.status == RegistrationStatus.WITHDRAWN:
        return Progress(N_("已退出"), "fail", [], [])
    result = overview(physician, now)
    papers = [
        PaperProgress(
            s.paper.name,
            s.code,
            N_("可以补考")
            if s.code == "open" and s.window is not None and s.window.round == WindowRound.MAKEUP
            else PAPER_STATE_ZH.get(s.code, s.label),
            s.remaining,
            s.best_score,
        )
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
