"""Read-side helpers: the current cycle, a physician's registration, their progress."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask import current_app

from examsvc.accounts.auth import current_user, session_login
from examsvc.accounts.ids import InvalidIdNumber, id_key, mask
from examsvc.accounts.models import User
from examsvc.enums import (
    Evaluation,
    PhysicianLevel,
    PracticeCategory,
    Procedure,
    RegistrationStatus,
    Role,
)
from examsvc.extensions import db
from examsvc.roster.models import Cycle, Physician


def configured_cycle() -> str | None:
    """The code of the cycle being examined as configured (``REGISTRY_CYCLE``), or None:
    then the latest to start is (``current_cycle_select``)."""
    return current_app.config.get("REGISTRY_CYCLE") or None


def current_cycle_select(*columns: Any, code: str | sa.BindParameter[str] | None) -> sa.Select[Any]:
    """The one rule for the cycle being examined, as a statement selecting ``columns`` of it:
    the cycle whose code is ``code`` (``configured_cycle()``, or a bind parameter standing
    for it in a statement built once), else (None) the latest to start. The hot paths embed
    it as a scalar subquery (``attempts.api.my_attempt_ref``)."""
    query = sa.select(*columns)
    if code is None:
        return query.order_by(Cycle.starts_on.desc()).limit(1)
    return query.where(Cycle.code == code).limit(1)


def current_cycle() -> Cycle | None:
    """The cycle being examined: the configured one, else the latest to start."""
    return db.session.scalars(current_cycle_select(Cycle, code=configured_cycle())).first()


def _current_physician(by_code: bool) -> sa.Select[Any]:
    # current_cycle's rule in the same statement (one query, no Cycle loaded).
    cycle = current_cycle_select(Cycle.id, code=sa.bindparam("cycle") if by_code else None)
    return sa.select(Physician).where(
        Physician.user_id == sa.bindparam("user_id"), Physician.cycle_id == cycle.scalar_subquery()
    )


# Built once (every exam request asks it), with the configured cycle bound or without.
_CURRENT_PHYSICIAN = {True: _current_physician(True), False: _current_physician(False)}


def current_physician(user_id: int) -> Physician | None:
    """The logged-in physician's registration in the current cycle."""
    code = configured_cycle()
    params: dict[str, Any] = {"user_id": user_id}
    if code is not None:
        params["cycle"] = code
    found: Physician | None = db.session.scalars(
        _CURRENT_PHYSICIAN[code is not None], params
    ).first()
    return found


@dataclass(frozen=True)
class Candidate:
    """A physician's registration as a start reads it: the columns the rules, the entry
    gate and the start use (by the names of ``Physician``'s), not the ORM object with its
    photo's encoding and its relationships."""

    id: int
    user_id: int
    cycle_id: int
    status: RegistrationStatus
    procedure: Procedure
    practice_category: PracticeCategory
    physician_level: PhysicianLevel
    exempt_humanities: bool
    exempt_professional: bool
    eval_work_performance: Evaluation
    eval_ethics: Evaluation
    time_allowance_minutes: int
    photo_usable: bool  # ``Physician.photo_usable``

    @classmethod
    def of(cls, physician: Physician) -> Candidate:
        return cls(*(getattr(physician, name) for name in _CANDIDATE_FIELDS))


_CANDIDATE_FIELDS = tuple(f.name for f in fields(Candidate))


def _current_candidate(by_code: bool) -> sa.Select[Any]:
    """``current_physician`` of a session that ``physician_required`` lets through (the user
    exists, is active, at this session version, a physician without a password change
    pending), as a ``Candidate``'s columns, instead of the user and the physician loaded:
    no row when any of it fails (the caller then lets ``physician_required`` and
    ``current_physician`` decide, so that the refusal is theirs)."""
    cycle = current_cycle_select(Cycle.id, code=sa.bindparam("cycle") if by_code else None)
    return (
        sa.select(*(getattr(Physician, name) for name in _CANDIDATE_FIELDS))
        .join(User, User.id == Physician.user_id)
        .where(
            Physician.user_id == sa.bindparam("user_id"),
            Physician.cycle_id == cycle.scalar_subquery(),
            # current_user's check of the session, and physician_required's of the user
            User.active.is_(True),
            User.session_version == sa.bindparam("sv"),
            User.role == Role.PHYSICIAN,
            User.must_change_password.is_(False),
        )
    )


# Built once, by the configured cycle's code or without (the latest to start): the extension
# point of a start's one read of the session (``attempts.operations.starting``).
CURRENT_CANDIDATE = {True: _current_candidate(True), False: _current_candidate(False)}


def candidate_params(user_id: int, session_version: int) -> tuple[bool, dict[str, Any]]:
    """Which ``CURRENT_CANDIDATE`` statement this app runs (by the configured cycle's code?)
    and its parameters for this session's (user id, session version)."""
    code = configured_cycle()
    params: dict[str, Any] = {"user_id": user_id, "sv": session_version}
    if code is not None:
        params["cycle"] = code
    return code is not None, params


def candidate_of(columns: Sequence[Any]) -> Candidate:
    """The ``Candidate`` of a row's first ``CANDIDATE_COLUMNS`` columns."""
    values = dict(zip(_CANDIDATE_FIELDS, columns[:CANDIDATE_COLUMNS], strict=True))
    values["photo_usable"] = bool(values["photo_usable"])  # SQLite gives 0 or 1
    return Candidate(**values)


CANDIDATE_COLUMNS = len(_CANDIDATE_FIELDS)


def logged_in_physician() -> Physician | None:
    """The logged-in user's registration in the current cycle (None for staff or nobody)."""
    user = current_user()
    return current_physician(user.id) if user else None


class PhysicianFace(NamedTuple):
    """What the entry verification needs of the logged-in physician."""

    id: int
    photo_usable: bool  # ``Physician.photo_usable``, selected
    face_encoding: bytes | None


def _logged_in(by_code: bool, *columns: Any) -> Any:
    """``logged_in_physician``'s decision as one statement built once, selecting
    ``columns``: the session's user checked as ``current_user`` checks it (it exists, is
    active and has the session's version) and their registration in the current cycle
    (``current_cycle_select``), without loading the user or the physician."""
    cycle = current_cycle_select(Cycle.id, code=sa.bindparam("cycle") if by_code else None)
    return (
        sa.select(*columns)
        .join(User, User.id == Physician.user_id)
        .where(
            User.id == sa.bindparam("user_id"),
            User.active.is_(True),
            User.session_version == sa.bindparam("sv"),
            Physician.cycle_id == cycle.scalar_subquery(),
        )
    )


_LOGGED_IN_ID = {by_code: _logged_in(by_code, Physician.id) for by_code in (True, False)}
_LOGGED_IN_FACE = {
    by_code: _logged_in(by_code, Physician.id, Physician.photo_usable, Physician.face_encoding)
    for by_code in (True, False)
}


def _logged_in_row(statements: dict[bool, Any]) -> Any:
    login = session_login()
    if login is None:
        return None
    code = configured_cycle()
    params: dict[str, Any] = {"user_id": login[0], "sv": login[1]}
    if code is not None:
        params["cycle"] = code
    return db.session.execute(statements[code is not None], params).first()


def logged_in_physician_id() -> int | None:
    """``logged_in_physician().id`` for the hot paths (the queue's asks): one narrow
    statement instead of loading the user and the physician."""
    row = _logged_in_row(_LOGGED_IN_ID)
    return None if row is None else int(row[0])


def logged_in_face() -> PhysicianFace | None:
    """The logged-in physician's id, photo status and face encoding (the entry
    verification's reads), decided as ``logged_in_physician`` decides, in one statement."""
    row = _logged_in_row(_LOGGED_IN_FACE)
    return None if row is None else PhysicianFace(*row)


def search_physicians(text: str) -> list[dict[str, Any]]:
    """Physicians by name (part of it) or ID number, for the administrators' password reset
    (``accounts.views.PHYSICIAN_SEARCH``)."""
    try:
        key: str | None = id_key(text)
    except InvalidIdNumber:
        key = None
    rows = db.session.scalars(
        sa.select(Physician)
        .where(sa.or_(Physician.name.like(f"%{text}%"), Physician.id_key == key))
        .order_by(Physician.name)
        .limit(50)
    ).all()
    return [
        {
            "user_id": p.user_id,
            "name": p.name,
            "masked_id": mask(p.id_number),
            "institution": p.institution_name,
        }
        for p in rows
    ]


# --- progress, as the agency sees it ---------------------------------------------------
# A physician's progress and attempt records come from examsvc.attempts, a feature above
# the roster (the same rules as the physician's own page): its init_app registers the two
# functions in ``app.extensions`` under these names, and the roster's pages ask here.
PROGRESS = "examsvc.physician_progress"
ATTEMPT_RECORDS = "examsvc.attempt_records"
OVERRIDES = "examsvc.physician_overrides"


@dataclass(frozen=True)
class PaperProgress:
    name: str
    code: str  # rules.PaperState.code
    label: str  # rules.PaperState.agency_label
    remaining: int
    best_score: float | None


@dataclass(frozen=True)
class Progress:
    task: str  # 当前任务, in the manuals' words
    tone: str  # pass | fail | wait (the badge's colour)
    papers: list[PaperProgress]
    reasons: list[str]


def progress(physician: Physician, now: datetime) -> Progress:
    """The physician's current task and each paper's state (``attempts.queries.progress``)."""
    lookup: Callable[[Physician, datetime], Progress] = current_app.extensions[PROGRESS]
    return lookup(physician, now)


def attempt_records(physician: Physician) -> list[tuple[Any, str]]:
    """Each attempt of the physician with its paper's name, oldest first
    (``attempts.queries.attempt_records``)."""
    lookup: Callable[[Physician], list[tuple[Any, str]]] = current_app.extensions[ATTEMPT_RECORDS]
    return lookup(physician)


@dataclass(frozen=True)
class OverrideRow:
    """An administrator's override (个人特殊安排) as the physician's page lists it."""

    id: int
    paper: str
    kind: str  # its words (attempts.words.OVERRIDE_LABELS)
    attempts: int | None
    minutes: int | None
    window: Any  # the personal window (round, opens_at, closes_at), or None
    reason: str
    granted_by: str | None
    granted_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class OverrideSection:
    rows: list[OverrideRow]
    papers: list[tuple[int, str]]  # (id, name): the papers one may be granted for


def overrides(physician: Physician, now: datetime) -> OverrideSection:
    """The physician's overrides and the papers to grant one for
    (``attempts.queries.override_rows``)."""
    lookup: Callable[[Physician, datetime], OverrideSection] = current_app.extensions[OVERRIDES]
    return lookup(physician, now)
