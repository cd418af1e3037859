"""Read-side views of attempts for other features' pages: a physician's progress and
attempt records on the agency's roster pages (registered there by ``init_app``), and the
papers a physician passed, for the result notice (``results``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.attempts.operations import overview
from examsvc.enums import RegistrationStatus
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.papers.models import Paper
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
