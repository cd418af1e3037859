"""The gate's writes (flush only; the caller's unit of work commits): consent, an entry
verification with its frames, an administrator's override."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from examsvc.audit.operations import record
from examsvc.camera import rules
from examsvc.camera.models import EntryCheck, EntryOverride, FaceConsent
from examsvc.camera.queries import consent_of
from examsvc.errors import Invalid
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.roster.models import Physician

PRIVATE = ("enrolled", "encoding")  # encodings never go into the stored decision


def give_consent(user_id: int, cycle_id: int, *, now: datetime, address: str | None) -> FaceConsent:
    """人脸信息采集授权 for this cycle and the current text (once: a repeat changes nothing)."""
    consent = consent_of(user_id, cycle_id)
    if consent is None:
        consent = FaceConsent(
            user_id=user_id,
            cycle_id=cycle_id,
            version=rules.CONSENT_VERSION,
            given_at=now,
            address=(address or "")[:64] or None,
        )
        db.session.add(consent)
        db.session.flush()
    return consent


def record_entry_check(
    physician_id: int,
    paper_id: int | None,
    result: dict[str, Any],
    frames: list[bytes],
    *,
    device: str | None,
    now: datetime,
    data_dir: str,
) -> EntryCheck:
    """Store one entry verification: the engine's decision and measurements (without
    encodings), its frames as files under ``data_dir/entry/``, the encodings it enrolled."""
    outcome = rules.outcome_of(result)
    folder = Path(data_dir) / "entry" / str(physician_id)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
    paths = []
    for i, frame in enumerate(frames, start=1):
        path = folder / f"{stem}-{i}.jpg"
        path.write_bytes(frame)
        paths.append(str(path.relative_to(data_dir)))
    enrolled = result.get("enrolled") or []
    check = EntryCheck(
        physician_id=physician_id,
        paper_id=paper_id,
        checked_at=now,
        outcome=outcome,
        distance=result.get("median_distance"),
        decision={k: v for k, v in result.items() if k not in PRIVATE},
        frames=paths,
        enrolled=b"".join(enrolled) if outcome in rules.PASSING and enrolled else None,
        device=rules.device_key(device) if device else None,
    )
    db.session.add(check)
    db.session.flush()
    return check


def grant_override(
    physician: Physician, *, actor_id: int, reason: str, now: datetime
) -> EntryOverride:
    """An administrator lets the physician through without a passed verification."""
    reason = reason.strip()
    if len(reason) < 2:
        raise Invalid(
            "reason_required",
            N_("请填写准许理由"),
            details=[{"field": "reason", "message": N_("请填写准许理由")}],
        )
    override = EntryOverride(
        physician_id=physician.id, granted_by=actor_id, granted_at=now, reason=reason[:300]
    )
    db.session.add(override)
    db.session.flush()
    record(
        "entry.override",
        "physician",
        physician.id,
        actor_id=actor_id,
        now=now,
        reason=override.reason,
    )
    return override
