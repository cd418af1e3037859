"""Results decided by a window's close alone: 缺考 (never sat), an unused makeup. Nothing
is submitted then, so no operation queues them: once a window has closed, the physicians of
its paper's cycle whose verdict is now decided are queued (batches, one unit each; the SQL
verdict picks them, no physician is loaded to find out), and the window is marked swept.
Safe in several processes: ``queue_result`` queues a result once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from examsvc.attempts.queries import verdicts
from examsvc.enums import RegistrationStatus
from examsvc.extensions import db
from examsvc.papers.models import ExamWindow, Paper
from examsvc.results.operations import queue_for
from examsvc.roster.models import Physician
from examsvc.uow import unit_of_work


def closed_windows(now: datetime) -> dict[int, list[int]]:
    """The windows closed and not yet swept, by their paper's cycle."""
    rows = db.session.execute(
        sa.select(Paper.cycle_id, ExamWindow.id)
        .join(Paper, Paper.id == ExamWindow.paper_id)
        .where(ExamWindow.closes_at <= now, ExamWindow.results_swept_at.is_(None))
        .order_by(ExamWindow.closes_at, ExamWindow.id)
    ).all()
    out: dict[int, list[int]] = {}
    for cycle_id, window_id in rows:
        out.setdefault(cycle_id, []).append(window_id)
    return out


def decided(cycle_id: int, now: datetime, after: int, limit: int) -> list[int]:
    """Approved physicians of the cycle whose verdict is pass or fail at ``now``, by id."""
    v = verdicts(now)
    return list(
        db.session.scalars(
            sa.select(Physician.id)
            .join(v, v.c.physician_id == Physician.id)
            .where(
                Physician.cycle_id == cycle_id,
                Physician.status == RegistrationStatus.APPROVED,
                Physician.id > after,
                v.c.result.in_(("pass", "fail")),
            )
            .order_by(Physician.id)
            .limit(limit)
        )
    )


def sweep(now: Callable[[], datetime], batch: int = 300) -> int:
    """Queue what closed windows decided; returns how many results were queued."""
    with unit_of_work():
        due = closed_windows(now())
    queued = 0
    for cycle_id, window_ids in due.items():
        after = 0
        while True:
            with unit_of_work():
                at = now()
                ids = decided(cycle_id, at, after, batch)
                queued += sum(queue_for(pid, at) is not None for pid in ids)
            if len(ids) < batch:
                break
            after = ids[-1]
        with unit_of_work():
            at = now()
            db.session.execute(
                sa.update(ExamWindow)
                .where(
                    ExamWindow.id.in_(window_ids),
                    ExamWindow.results_swept_at.is_(None),
                    ExamWindow.closes_at <= at,  # not moved meanwhile
                )
                .values(results_swept_at=at)
            )
    return queued
