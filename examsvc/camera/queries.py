"""Read-side of the gate: consent, the registration photo, overrides, this device's entry
check (and its one write, linking it to the attempt it opens), failed verifications, and
the physicians the agency must help."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.camera import rules
from examsvc.camera.models import EntryCheck, EntryOverride, FaceConsent
from examsvc.enums import AttemptStatus
from examsvc.extensions import db
from examsvc.roster.models import Physician
from examsvc.roster.queries import PhysicianFace


def consent_of(user_id: int, cycle_id: int) -> FaceConsent | None:
    """The physician's consent to the current text in this cycle."""
    return db.session.scalars(
        sa.select(FaceConsent).where(
            FaceConsent.user_id == user_id,
            FaceConsent.cycle_id == cycle_id,
            FaceConsent.version == rules.CONSENT_VERSION,
        )
    ).first()


def photo_usable(physician: Physician | PhysicianFace) -> bool:
    """A registration photo the engine accepted and encoded (entry compares with it)."""
    return bool(physician.photo_usable)


def active_override(physician_id: int) -> EntryOverride | None:
    return db.session.scalars(
        sa.select(EntryOverride)
        .where(EntryOverride.physician_id == physician_id, EntryOverride.revoked_at.is_(None))
        .order_by(EntryOverride.granted_at.desc())
    ).first()


@dataclass(frozen=True)
class DeviceCheck:
    """This device's passing entry verification as the gate hands it to attempts
    (``attempts.operations.EntryRecord``): plain data, not the row with its frames,
    decision and encodings."""

    id: int
    attempt_id: int | None  # the attempt it opened (None: unused)

    def link(self, attempt_id: int) -> None:
        """It belongs to ``attempt_id`` from now on, if still unused: one UPDATE (the
        caller's unit commits)."""
        db.session.execute(_LINK, {"check_id": self.id, "attempt_id": attempt_id})


_CHECKS = cast(sa.Table, EntryCheck.__table__)
_LINK = (
    sa.update(_CHECKS)
    .where(_CHECKS.c.id == sa.bindparam("check_id"), _CHECKS.c.attempt_id.is_(None))
    .values(attempt_id=sa.bindparam("attempt_id"))
)
# This device's passing check that still opens something, the latest first: an unused one
# checked within its validity (``rules.valid_since``: a new attempt, or resuming here after
# verifying), or the one that opened an attempt still in progress (coming back to it on the
# same device).
_DEVICE_CHECK = (
    sa.select(EntryCheck.id, EntryCheck.attempt_id)
    .outerjoin(Attempt, Attempt.id == EntryCheck.attempt_id)
    .where(
        EntryCheck.physician_id == sa.bindparam("physician_id"),
        EntryCheck.purpose == "entry",
        EntryCheck.device == sa.bindparam("device"),
        EntryCheck.outcome.in_(rules.PASSING),
        sa.or_(
            sa.and_(
                EntryCheck.attempt_id.is_(None),
                EntryCheck.checked_at >= sa.bindparam("valid_since"),
            ),
            Attempt.status == AttemptStatus.IN_PROGRESS,
        ),
    )
    .order_by(EntryCheck.checked_at.desc(), EntryCheck.id.desc())
    .limit(1)
    .subquery("device_check")
)
_ONE = sa.select(sa.literal(1).label("one")).subquery("one")
# The gate's reads in one statement built once (every start and resume asks them): the
# consent (``consent_of``), the latest standing override (``active_override``) and this
# device's check (a row or none, joined to a row of one).
_GATE = sa.select(
    sa.exists().where(
        FaceConsent.user_id == sa.bindparam("user_id"),
        FaceConsent.cycle_id == sa.bindparam("cycle_id"),
        FaceConsent.version == rules.CONSENT_VERSION,
    ),
    sa.select(EntryOverride.id)
    .where(
        EntryOverride.physician_id == sa.bindparam("physician_id"),
        EntryOverride.revoked_at.is_(None),
    )
    .order_by(EntryOverride.granted_at.desc())
    .limit(1)
    .scalar_subquery(),
    _DEVICE_CHECK.c.id,
    _DEVICE_CHECK.c.attempt_id,
).select_from(_ONE.outerjoin(_DEVICE_CHECK, sa.true()))


@dataclass(frozen=True)
class Gate:
    """What the entry gate reads: consent in this cycle, the latest standing override's id,
    and this device's check that still opens something."""

    consented: bool
    override_id: int | None
    check: DeviceCheck | None


def gate_reads(
    user_id: int,
    cycle_id: int,
    physician_id: int,
    device: str | None,
    now: datetime,
    valid_minutes: int,
) -> Gate:
    """``consent_of`` is not None, ``active_override``'s id and this device's check (None
    without a device token), in one statement."""
    params = {
        "user_id": user_id,
        "cycle_id": cycle_id,
        "physician_id": physician_id,
        # no device token: no check is this device's (``device = NULL`` is never true)
        "device": rules.device_key(device) if device else None,
        "valid_since": rules.valid_since(now, valid_minutes),
    }
    consented, override_id, check_id, attempt_id = db.session.execute(_GATE, params).one()
    return Gate(
        bool(consented),
        override_id,
        None if check_id is None else DeviceCheck(check_id, attempt_id),
    )


def failures(physician_id: int) -> int:
    """Failed verifications since the last one that passed (on any device)."""
    last_pass = (
        sa.select(sa.func.max(EntryCheck.checked_at))
        .where(EntryCheck.physician_id == physician_id, EntryCheck.outcome.in_(rules.PASSING))
        .scalar_subquery()
    )
    return (
        db.session.scalar(
            sa.select(sa.func.count()).where(
                EntryCheck.physician_id == physician_id,
                EntryCheck.outcome.in_(rules.FAILING),
                sa.or_(last_pass.is_(None), EntryCheck.checked_at > last_pass),
            )
        )
        or 0
    )


@dataclass
class Blocked:
    """A physician the gate stops, for the agency's list."""

    physician: Physician
    photo_usable: bool
    failures: int
    last_check: EntryCheck | None
    override: EntryOverride | None


def blocked(cycle_id: int) -> list[Blocked]:
    """Physicians of the cycle without a usable registration photo, or whose verification
    keeps failing (``rules.FAILURES_BEFORE_HELP`` in a row), with any override granted."""
    no_photo = sa.not_(Physician.photo_usable)
    failing = sa.select(EntryCheck.physician_id).where(EntryCheck.outcome.in_(rules.FAILING))
    candidates = db.session.scalars(
        sa.select(Physician)
        .where(Physician.cycle_id == cycle_id, sa.or_(no_photo, Physician.id.in_(failing)))
        .order_by(Physician.name, Physician.id)
    ).all()
    rows = []
    for physician in candidates:
        usable = photo_usable(physician)
        failed = failures(physician.id)
        if usable and failed < rules.FAILURES_BEFORE_HELP:
            continue
        last = db.session.scalars(
            sa.select(EntryCheck)
            .where(EntryCheck.physician_id == physician.id)
            .order_by(EntryCheck.checked_at.desc(), EntryCheck.id.desc())
            .limit(1)
        ).first()
        rows.append(Blocked(physician, usable, failed, last, active_override(physician.id)))
    return rows


def claim_check(
    physician_id: int, device: str, now: datetime, valid_minutes: int
) -> EntryCheck | None:
    """首次登录人脸核验 done on this device (this login): a passed or reviewed ``claim``
    check within its validity."""
    since = now - timedelta(minutes=valid_minutes)
    return db.session.scalars(
        sa.select(EntryCheck)
        .where(
            EntryCheck.physician_id == physician_id,
            EntryCheck.purpose == "claim",
            EntryCheck.device == rules.device_key(device),
            EntryCheck.outcome.in_(rules.PASSING),
            EntryCheck.checked_at >= since,
        )
        .order_by(EntryCheck.checked_at.desc())
        .limit(1)
    ).first()
