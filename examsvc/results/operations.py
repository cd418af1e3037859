"""The result the registration system receives (registry API v1 §2), and queueing it in the
write-back outbox (flush only; the unit of work that decided the result commits it).

The body comes from the same computation as the physician's own pages
(``attempts.operations.overview``): a verdict that is still pending queues nothing, and the
same result is queued once however often something asks (its digest, the body without
``decided_at``). A changed result (a makeup exam passed, an evaluation changed) is a new
row with a new ``Idempotency-Key``; a still-pending older row of the physician is
superseded, never one already delivered or refused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from examsvc.attempts import rules
from examsvc.attempts.models import Attempt
from examsvc.attempts.operations import overview
from examsvc.attempts.queries import verdicts
from examsvc.clock import BEIJING
from examsvc.enums import AttemptStatus, Evaluation, RegistrationStatus, WindowRound
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.papers.models import ExamWindow, Paper
from examsvc.results.models import DeliveryStatus, ResultDelivery, ResultVerdict
from examsvc.roster.models import Physician

# The order of reasons the contract asks for: evaluations, failed, absent, voided papers.
REASON_ORDER = ("failed", "absent", "voided")


def wire_time(value: datetime | None) -> str | None:
    """A time as the registration systems write it: ISO 8601 with +08:00."""
    return None if value is None else value.astimezone(BEIJING).isoformat(timespec="seconds")


def _paper_status(state: rules.PaperState, attempts: list[Attempt]) -> str | None:
    """The contract's word for a decided paper; None while it is still to be decided."""
    if state.code in ("exempt", "passed"):
        return state.code
    if state.code == "failed":
        return "voided" if attempts and attempts[-1].status == AttemptStatus.VOIDED else "failed"
    if state.code == "closed" and state.label == rules.CLOSED_LABEL:
        return "absent"
    return None


def _reason(status: str, paper: str) -> str:
    if status == "failed":
        return N_("{paper}不合格", paper=paper)
    if status == "absent":
        return N_("{paper}缺考", paper=paper)
    return N_("{paper}违纪终止", paper=paper)


def result_payload(physician: Physician, now: datetime) -> dict[str, Any] | None:
    """The request body of registry API v1 §2 for the physician's cycle result at ``now``;
    None while the result is not decided (pending) or for a withdrawn registration."""
    if physician.status != RegistrationStatus.APPROVED:
        return None
    result = overview(physician, now)
    if result.verdict.result not in (ResultVerdict.PASS, ResultVerdict.FAIL):
        return None
    rows = db.session.execute(
        sa.select(Attempt, ExamWindow.round)
        .join(ExamWindow, ExamWindow.id == Attempt.window_id)
        .where(Attempt.physician_id == physician.id)
        .order_by(Attempt.paper_id, Attempt.number)
    ).all()
    by_paper: dict[int, list[Attempt]] = defaultdict(list)
    makeup_sat: set[int] = set()
    for attempt, round_ in rows:
        by_paper[attempt.paper_id].append(attempt)
        if round_ == WindowRound.MAKEUP and attempt.status != AttemptStatus.IN_PROGRESS:
            makeup_sat.add(attempt.paper_id)
    pass_marks = {
        paper_id: mark
        for paper_id, mark in db.session.execute(
            sa.select(Paper.id, Paper.pass_mark).where(
                Paper.id.in_([s.paper.id for s in result.states])
            )
        )
    }
    papers: list[dict[str, Any]] = []
    paper_reasons: dict[str, list[str]] = defaultdict(list)
    for state in result.states:
        mine = [
            a for a in by_paper.get(state.paper.id, []) if a.status != AttemptStatus.IN_PROGRESS
        ]
        status = _paper_status(state, mine)
        if status is None:  # a fail decided by the evaluations while this paper is still open
            continue
        scores = [a.score for a in mine if a.score is not None]
        deciding = next((a for a in mine if a.passed), mine[-1] if mine else None)
        papers.append(
            {
                "paper": state.paper.kind.value,
                "status": status,
                "score": max(scores) if scores and status != "exempt" else None,
                "pass_mark": pass_marks[state.paper.id],
                "attempts_used": len(mine),
                "finished_at": wire_time(deciding.submitted_at)
                if deciding is not None and status != "exempt"
                else None,
            }
        )
        if status in REASON_ORDER:
            paper_reasons[status].append(_reason(status, state.paper.name))
    failed_evaluations = sum(
        value == Evaluation.FAIL
        for value in (physician.eval_work_performance, physician.eval_ethics)
    )
    # rules.verdict names the failed evaluations first, in the manuals' words.
    reasons = list(result.verdict.reasons[:failed_evaluations])
    for status in REASON_ORDER:
        reasons += paper_reasons[status]
    listed = {s.paper.id for s in result.states}
    return {
        "verdict": result.verdict.result,
        "decided_at": wire_time(now),
        "round": WindowRound.MAKEUP.value if makeup_sat & listed else WindowRound.REGULAR.value,
        "papers": papers,
        "reasons": [str(r) for r in reasons],
    }


def digest(body: dict[str, Any]) -> str:
    """The same result's fingerprint, whenever it was decided."""
    same = {k: v for k, v in body.items() if k != "decided_at"}
    text = json.dumps(same, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def queue_result(physician: Physician, now: datetime) -> ResultDelivery | None:
    """Queue the physician's decided result for the registration system, once: the new row,
    or None (nothing decided, or this very result already queued)."""
    body = result_payload(physician, now)
    if body is None:
        return None
    fingerprint = digest(body)
    latest = db.session.scalars(
        sa.select(ResultDelivery)
        .where(ResultDelivery.physician_id == physician.id)
        .order_by(ResultDelivery.queued_at.desc(), ResultDelivery.id.desc())
        .limit(1)
    ).first()
    if latest is not None and latest.digest == fingerprint:
        return None  # this very result is the newest queued
    supersede = (
        sa.update(ResultDelivery)
        .where(
            ResultDelivery.physician_id == physician.id,
            ResultDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.SUPERSEDED, next_try_at=None)
    )
    key = str(uuid.uuid4())
    earlier = db.session.scalars(
        sa.select(ResultDelivery).where(
            ResultDelivery.physician_id == physician.id, ResultDelivery.digest == fingerprint
        )
    ).first()
    if earlier is not None:
        # The result went A → B → A: the registry now holds B (or nothing), so A is sent
        # again as a changed result, with a new key, from its own row.
        db.session.execute(supersede.where(ResultDelivery.id != earlier.id))
        earlier.payload, earlier.decided_at, earlier.queued_at = body, now, now
        earlier.idempotency_key, earlier.tries = key, 0
        earlier.status, earlier.next_try_at = DeliveryStatus.PENDING, now
        earlier.delivered_at = earlier.lease_until = earlier.leased_by = None
        db.session.flush()
        return earlier
    db.session.execute(supersede)
    values = {
        "cycle_id": physician.cycle_id,
        "physician_id": physician.id,
        "round": WindowRound(body["round"]),
        "verdict": ResultVerdict(body["verdict"]),
        "payload": body,
        "digest": fingerprint,
        "idempotency_key": key,
        "decided_at": now,
        "queued_at": now,
        "status": DeliveryStatus.PENDING,
        "tries": 0,
        "next_try_at": now,
    }
    # Two units deciding the same result at once (a pull and a submission): the second
    # inserts nothing instead of failing its unit.
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(ResultDelivery).values(**values)
    db.session.execute(insert.on_conflict_do_nothing(index_elements=["physician_id", "digest"]))
    db.session.flush()
    return db.session.scalars(
        sa.select(ResultDelivery).where(ResultDelivery.idempotency_key == key)
    ).first()


def queue_for(physician_id: int, now: datetime) -> ResultDelivery | None:
    """``queue_result`` by the physician's id (the receiver of ``verdict_may_change``)."""
    physician = db.session.get(Physician, physician_id)
    return None if physician is None else queue_result(physician, now)


def on_verdict_may_change(sender: int, *, now: datetime, **extra: Any) -> None:
    """The receiver of ``signals.verdict_may_change``: queue inside the sender's unit."""
    queue_for(sender, now)


def decided_among(physician_ids: Sequence[int], now: datetime) -> list[int]:
    """Those of the physicians whose verdict is pass or fail at ``now`` (the SQL verdict:
    no physician is loaded to find out)."""
    v = verdicts(now)
    return list(
        db.session.scalars(
            sa.select(v.c.physician_id)
            .where(v.c.physician_id.in_(physician_ids), v.c.result.in_(("pass", "fail")))
            .order_by(v.c.physician_id)
        )
    )


def on_verdicts_may_change(sender: tuple[int, ...], *, now: datetime, **extra: Any) -> None:
    """The receiver of ``signals.verdicts_may_change`` (a roster page or file): the decided
    among them are queued inside the sender's unit; most of a new roster is undecided and
    costs one query for all."""
    for chunk in range(0, len(sender), 500):
        for physician_id in decided_among(sender[chunk : chunk + 500], now):
            queue_for(physician_id, now)
