"""The physician's exam API: overview, start, state, answers, submit (consent is the
camera feature's, which also answers the gate before a start: ``entry``).

Thin: parse, check ownership, call one operation; the request's unit of work commits.
Starting and saving are run again after losing a race to the database's unique constraints
(another device or a double tap): ``uow.retry_conflicts``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app
from pydantic import AwareDatetime, BaseModel, Field

from examsvc import metrics, uow
from examsvc.accounts.auth import current_user, physician_required, session_login
from examsvc.accounts.models import User
from examsvc.attempts import operations as ops
from examsvc.attempts import rules
from examsvc.attempts.models import Attempt
from examsvc.clock import now
from examsvc.enums import SubmitReason
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.papers.models import Paper
from examsvc.roster.models import Cycle, Physician
from examsvc.roster.queries import (
    Candidate,
    configured_cycle,
    current_cycle_select,
    current_physician,
)
from examsvc.web.errors import ApiError, parse_json
from examsvc.web.inputs import MAX_INT

bp = Blueprint("attempts_api", __name__, url_prefix="/api/v1/exam")


def me() -> Physician:
    user = current_user()
    if user is None:  # logged out (on any device): not "unregistered"
        raise ApiError(401, "unauthorized", N_("请先登录"))
    physician = current_physician(user.id)
    if physician is None:
        raise ApiError(404, "not_registered", N_("本周期没有您的报名记录"))
    return physician


def me_to_start() -> ops.Starting | None:
    """``physician_required`` and ``me`` for a start, with the physician's attempts, in one
    narrow statement (``operations.starting``) instead of the user and the physician
    loaded. None (rare): the session fails a check, and the view lets them decide, so that
    it answers with the same error, in the same order."""
    login = session_login()
    return None if login is None else ops.starting(*login)


def entry(
    physician: Physician | Candidate, paper_id: int | None, attempt_id: int | None = None
) -> ops.Entry:
    """The camera feature's gate for this physician on this device (registered by its
    ``init_app``; without it nothing passes)."""
    gate = current_app.extensions.get(ops.ENTRY_GATE)
    return gate(physician, paper_id, now(), attempt_id=attempt_id) if gate else ops.Entry()


def my_attempt(attempt_id: int) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.physician_id != me().id:
        raise ApiError(404, "not_found", N_("没有这次测评"))
    return attempt


def _own(by_code: bool) -> Any:
    """The attempt's columns a save and a state fetch need, if it is the user's attempt in
    the current cycle (the roster's rule, ``roster.queries.current_cycle_select``, as a
    subquery: the configured cycle bound as ``cycle``, else the latest to start), in one
    statement built once."""
    cycle = current_cycle_select(Cycle.id, code=sa.bindparam("cycle") if by_code else None)
    return (
        sa.select(
            Attempt.id,
            Attempt.status,
            Attempt.deadline_at,
            Attempt.seed,
            Attempt.started_at,
            Attempt.number,
            Attempt.last_seq,
            Paper.name,
        )
        .join(Physician, Physician.id == Attempt.physician_id)
        .join(Paper, Paper.id == Attempt.paper_id)
        .join(User, User.id == Physician.user_id)
        .where(
            Attempt.id == sa.bindparam("attempt_id"),
            Physician.user_id == sa.bindparam("user_id"),
            Physician.cycle_id == cycle.scalar_subquery(),
            # current_user's check of the session, without loading the user
            User.active.is_(True),
            User.session_version == sa.bindparam("sv"),
        )
    )


_OWN = {True: _own(True), False: _own(False)}


# The candidate's pages on the way to ready (compiled before serving, ``warm``).
TEMPLATES = ("base.html", "attempts/home.html", "attempts/prepare.html", "attempts/exam.html")


def warm(now: datetime) -> None:
    """Before serving (``examsvc.warm``): the reads of a start (``operations.warm``), of
    the exam page and of a state fetch run once, with ids that no row has (the statements
    compiled and kept), and the candidate's templates compiled."""
    db.session.get(User, 0)  # current_user
    current_physician(0)
    ops.warm()
    code = configured_cycle()
    params: dict[str, Any] = {"attempt_id": 0, "user_id": 0, "sv": -1}
    if code is not None:
        params["cycle"] = code
    db.session.execute(_OWN[code is not None], params).first()
    db.session.get(Attempt, 0)
    for name in TEMPLATES:
        current_app.jinja_env.get_template(name)


def my_attempt_ref(attempt_id: int) -> ops.AttemptRef:
    """``my_attempt`` for the hot paths (a save, a state fetch): the same decision in one
    narrow query instead of loading the user, the physician and the attempt (the session's
    user is checked in it as ``current_user`` checks it); a refusal (rare) is decided by
    ``my_attempt`` itself, so that it answers with the same error."""
    login = session_login()
    if login is not None:
        code = configured_cycle()
        params: dict[str, Any] = {"attempt_id": attempt_id, "user_id": login[0], "sv": login[1]}
        if code is not None:
            params["cycle"] = code
        row = db.session.execute(_OWN[code is not None], params).first()
        if row is not None:
            return ops.AttemptRef(*row)
    attempt = my_attempt(attempt_id)  # raises the refusal
    return ops.AttemptRef(
        attempt.id,
        attempt.status,
        attempt.deadline_at,
        attempt.seed,
        attempt.started_at,
        attempt.number,
        attempt.last_seq,
        attempt.paper.name,
    )


def state_json(state: Any, checking_in: bool = False) -> dict[str, Any]:
    window = state.window
    return {
        "paper_id": state.paper.id,
        "paper": state.paper.name,
        "kind": state.paper.kind.value,
        "state": state.code,
        "label": state.label,
        "remaining_attempts": state.remaining,
        "can_start": state.can_start,
        "checking_in": checking_in,
        "reason": state.reason,
        "best_score": state.best_score,
        "window": None
        if window is None
        else {
            "round": window.round.value,
            "opens_at": window.opens_at.isoformat(),
            "closes_at": window.closes_at.isoformat(),
        },
    }


@bp.get("")
@physician_required
def overview() -> dict[str, Any]:
    physician = me()
    when = now()
    result = ops.overview(physician, when)
    minutes = current_app.config["CHECKIN_MINUTES"]
    return {
        "cycle": physician.cycle.name,
        "procedure": physician.procedure.value,
        "consent_given": entry(physician, None).consented,
        "papers": [state_json(s, rules.checks_in(s, when, minutes)) for s in result.states],
        "verdict": {
            "result": result.verdict.result,
            "label": result.verdict.label,
            "reasons": result.verdict.reasons,
        },
    }


class StartBody(BaseModel):
    rules_acknowledged: bool = False


@bp.post("/papers/<int:paper_id>/attempts")
@uow.retry_conflicts
def start(paper_id: int) -> tuple[dict[str, Any], int]:
    starting = me_to_start()
    if starting is None:
        physician_required(lambda: None)()  # 401 or 403, as its decorator answered
    body = parse_json(StartBody)
    if starting is None:
        starting = ops.Starting(Candidate.of(me()))  # 404 not registered (or, after a race, in)
    attempt = ops.start_attempt(
        starting,
        paper_id,
        now=now(),
        rules_acknowledged=body.rules_acknowledged,
        entry=entry(starting.physician, paper_id),
        allowance_cap=current_app.config["MAX_ALLOWANCE_MINUTES"],
    )
    return ops.attempt_view(attempt, now()), 201


@bp.get("/attempts/<int:attempt_id>")
@physician_required
def state(attempt_id: int) -> dict[str, Any]:
    return ops.attempt_view(my_attempt_ref(attempt_id), now())


class AnswerBody(BaseModel):
    response: Any = None
    marked: bool = False
    seq: int = Field(ge=1, le=MAX_INT)
    journaled_at: AwareDatetime | None = None


class AnswerMessage(AnswerBody):
    """The socket's ``answer``: the body with the ids that HTTP carries in its URL."""

    attempt_id: int = Field(ge=1, le=MAX_INT)
    position: int = Field(ge=1, le=MAX_INT)


def save(attempt_id: int, position: int, body: AnswerBody) -> dict[str, Any]:
    """Save one answer; shared by the HTTP fallback and the socket channel, whose unit of
    work commits it (two first saves of one question at once: the retry sees the winner).
    A refusal (:class:`examsvc.errors.Refused`) is raised as it is: the one mapping answers it
    over HTTP and over the socket."""
    result = ops.save_answer(
        my_attempt_ref(attempt_id),
        position,
        body.response,
        marked=body.marked,
        seq=body.seq,
        now=now(),
        journaled_at=body.journaled_at,
        grace=timedelta(seconds=current_app.config["ANSWER_GRACE_SECONDS"]),
    )
    return {"ok": True, "code": result.code, "seq": result.seq, "saved_at": now().isoformat()}


@bp.put("/attempts/<int:attempt_id>/answers/<int:position>")
@metrics.timed_answer("http")
@physician_required
@uow.retry_conflicts
def save_http(attempt_id: int, position: int) -> dict[str, Any]:
    return save(attempt_id, position, parse_json(AnswerBody))


@bp.post("/attempts/<int:attempt_id>/submit")
@physician_required
def submit(attempt_id: int) -> dict[str, Any]:
    attempt = my_attempt(attempt_id)
    attempt = ops.submit_attempt(attempt.id, now=now(), reason=SubmitReason.CANDIDATE)
    return ops.attempt_view(attempt, now())
