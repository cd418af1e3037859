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
from examsvc.enums import AttemptStatus, PhotoStatus
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
    return physician.photo_status == PhotoStatus.OK and physician.face_encoding is not None


def active_override(physician_id: int) -> EntryOverride | None:
    return db.session.scalars(
        sa.select(EntryOverride)
        .where(EntryOverride.physician_id == physician_id, EntryOverride.revoked_at.is_(None))
        .order_by(EntryOverride.granted_at.desc())
    ).first()


_CONSENT_AND_OVERRIDE = sa.select(
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
)


def consent_and_override(user_id: int, cycle_id: int, physician_id: int) -> tuple[bool, int | None]:
    """``consent_of`` is not None and ``active_override``'s id, in one statement built once
    (the gate asks both before every start)."""
    params = {"user_id": user_id, "cycle_id": cycle_id, "physician_id": physician_id}
    consented, override_id = db.session.execute(_CONSENT_AND_OVERRIDE, params).one()
    return bool(consented), override_id


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
_DEVICE_CHECKS = (
    sa.select(EntryCheck.id, EntryCheck.attempt_id, EntryCheck.checked_at)
    .outerjoin(Attempt, Attempt.id == EntryCheck.attempt_id)
    .where(
        EntryCheck.physician_id == sa.bindparam("physician_id"),
        EntryCheck.purpose == "entry",
        EntryCheck.device == sa.bindparam("device"),
        EntryCheck.outcome.in_(rules.PASSING),
        sa.or_(EntryCheck.attempt_id.is_(None), Attempt.status == AttemptStatus.IN_PROGRESS),
    )
    .order_by(EntryCheck.checked_at.desc(), EntryCheck.id.desc())
)


def device_check(
    physician_id: int, device: str | None, now: datetime, valid_minutes: int
) -> DeviceCheck | None:
    """This device's passing check that still opens something: an unused one within its
    validity (a new attempt, or resuming here after verifying), or the one that opened an
    attempt still in progress (coming back to it on the same device). Three columns read,
    in a statement built once."""
    if not device:
        return None
    checks = db.session.execute(
        _DEVICE_CHECKS, {"physician_id": physician_id, "device": rules.device_key(device)}
    )
    for check_id, attempt_id, checked_at in checks:
        if attempt_id is not None or rules.still_valid(checked_at, now, valid_minutes):
            return DeviceCheck(check_id, attempt_id)
    return None


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
    no_photo = sa.or_(Physician.photo_status != PhotoStatus.OK, Physician.face_encoding.is_(None))
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
