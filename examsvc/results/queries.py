"""Read-side of the write-back outbox for the agency: the filter of the reconciliation page
(cycle, status, institution, exam window), its counts and rows, and the export's rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from examsvc.attempts.models import Attempt
from examsvc.extensions import db
from examsvc.papers.models import ExamWindow, Paper
from examsvc.results.models import DeliveryStatus, ResultDelivery
from examsvc.roster.models import Cycle, Physician
from examsvc.roster.queries import current_cycle

PAGE = 50


@dataclass(frozen=True)
class Filter:
    """Which results: a cycle (None: there is none), and optionally a delivery status, an
    institution (its code) and an exam window (those examined in it, for its round)."""

    cycle: Cycle | None
    status: DeliveryStatus | None = None
    institution: str | None = None
    window_id: int | None = None

    def args(self) -> dict[str, Any]:
        """The filter as query arguments (links, the export, the bulk re-send's form)."""
        values = {
            "cycle": self.cycle.code if self.cycle else None,
            "status": self.status.value if self.status else None,
            "institution": self.institution,
            "window": self.window_id,
        }
        return {k: v for k, v in values.items() if v}


def read_filter(args: Mapping[str, Any]) -> Filter:
    """The filter from query arguments; an unknown value is left out (the default applies)."""
    code = (args.get("cycle") or "").strip()
    cycle = (
        db.session.scalars(sa.select(Cycle).where(Cycle.code == code)).first() if code else None
    ) or current_cycle()
    status = args.get("status") or ""
    window = str(args.get("window") or "")
    return Filter(
        cycle=cycle,
        status=DeliveryStatus(status) if status in DeliveryStatus._value2member_map_ else None,
        institution=(args.get("institution") or "").strip() or None,
        window_id=int(window) if window.isdigit() else None,
    )


def _conditions(f: Filter, *, with_status: bool = True) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [
        ResultDelivery.cycle_id == (f.cycle.id if f.cycle else -1)
    ]
    if with_status and f.status is not None:
        where.append(ResultDelivery.status == f.status)
    if f.institution:
        where.append(Physician.institution_code == f.institution)
    if f.window_id is not None:
        window_round = sa.select(ExamWindow.round).where(ExamWindow.id == f.window_id)
        sat = sa.select(Attempt.id).where(
            Attempt.physician_id == ResultDelivery.physician_id,
            Attempt.window_id == f.window_id,
        )
        where += [ResultDelivery.round == window_round.scalar_subquery(), sat.exists()]
    return where


def _select(f: Filter, *, with_status: bool = True) -> sa.Select[ResultDelivery]:
    return (
        sa.select(ResultDelivery)
        .join(Physician, Physician.id == ResultDelivery.physician_id)
        .where(*_conditions(f, with_status=with_status))
    )


@dataclass(frozen=True)
class Counts:
    by_status: dict[str, int]
    next_try_at: datetime | None  # the soonest try of a pending result


def counts(f: Filter) -> Counts:
    """How many results of the filter (its status aside) are in each delivery state."""
    where = _conditions(f, with_status=False)
    rows = db.session.execute(
        sa.select(ResultDelivery.status, sa.func.count(), sa.func.min(ResultDelivery.next_try_at))
        .join(Physician, Physician.id == ResultDelivery.physician_id)
        .where(*where)
        .group_by(ResultDelivery.status)
    ).all()
    by_status = {s.value: 0 for s in DeliveryStatus}
    next_try = None
    for status, n, soonest in rows:
        by_status[DeliveryStatus(status).value] = n
        if DeliveryStatus(status) == DeliveryStatus.PENDING:
            next_try = soonest
    return Counts(by_status, next_try)


def page(f: Filter, number: int) -> tuple[int, list[ResultDelivery]]:
    """How many results the filter keeps, and page ``number`` of them (refused first, then
    pending, each newest first)."""
    query = _select(f)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    first = sa.case(
        (ResultDelivery.status == DeliveryStatus.REFUSED, 0),
        (ResultDelivery.status == DeliveryStatus.PENDING, 1),
        else_=2,
    )
    rows = db.session.scalars(
        query.options(joinedload(ResultDelivery.physician))
        .order_by(first, ResultDelivery.decided_at.desc(), ResultDelivery.id.desc())
        .limit(PAGE)
        .offset((max(1, number) - 1) * PAGE)
    ).all()
    return total, list(rows)


def refused_ids(f: Filter) -> sa.Select[int]:
    """The refused results of the filter (its own status aside), as a query of their ids."""
    return (
        sa.select(ResultDelivery.id)
        .join(Physician, Physician.id == ResultDelivery.physician_id)
        .where(*_conditions(f, with_status=False), ResultDelivery.status == DeliveryStatus.REFUSED)
    )


def refused(f: Filter) -> list[ResultDelivery]:
    ids = refused_ids(f)
    return list(
        db.session.scalars(
            sa.select(ResultDelivery)
            .options(joinedload(ResultDelivery.physician))
            .where(ResultDelivery.id.in_(ids))
            .order_by(ResultDelivery.id)
        ).all()
    )


def current_results(f: Filter) -> list[ResultDelivery]:
    """Each physician's newest result of the filter (its status aside): what the export
    lists, one row per physician. An older result replaced by a newer one is left out."""
    newest = (
        sa.select(sa.func.max(ResultDelivery.id))
        .join(Physician, Physician.id == ResultDelivery.physician_id)
        .where(*_conditions(f, with_status=False))
        .group_by(ResultDelivery.physician_id)
    )
    return list(
        db.session.scalars(
            sa.select(ResultDelivery)
            .options(joinedload(ResultDelivery.physician))
            .join(Physician, Physician.id == ResultDelivery.physician_id)
            .where(ResultDelivery.id.in_(newest))
            .order_by(Physician.institution_code, Physician.registration_id)
        ).all()
    )


def institutions(cycle: Cycle | None) -> list[tuple[str, str]]:
    """``(code, name)`` of the institutions with results in the cycle, for the filter."""
    return [
        (code, name)
        for code, name in db.session.execute(
            sa.select(Physician.institution_code, sa.func.min(Physician.institution_name))
            .join(ResultDelivery, ResultDelivery.physician_id == Physician.id)
            .where(ResultDelivery.cycle_id == (cycle.id if cycle else -1))
            .group_by(Physician.institution_code)
            .order_by(Physician.institution_code)
        ).all()
    ]


def windows(cycle: Cycle | None) -> list[ExamWindow]:
    """The cycle's exam windows, for the filter."""
    return list(
        db.session.scalars(
            sa.select(ExamWindow)
            .join(Paper, Paper.id == ExamWindow.paper_id)
            .options(joinedload(ExamWindow.paper))
            .where(Paper.cycle_id == (cycle.id if cycle else -1))
            .order_by(ExamWindow.opens_at, ExamWindow.id)
        ).all()
    )


def cycles() -> list[Cycle]:
    return list(db.session.scalars(sa.select(Cycle).order_by(Cycle.starts_on.desc())).all())
