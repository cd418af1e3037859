"""The gate's writes (flush only; the caller's unit of work commits): consent, an entry
verification with its frames, an administrator's override.

What the candidate's camera changes during an attempt: snapshots stored and analysed,
page and connection events. Operations flush; the caller's unit of work commits. Each change
the invigilators' wall shows sends ``attempt_changed``. Nothing here voids or warns: an
automated flag carries its evidence and a person decides."""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.audit.operations import record
from examsvc.camera import rules
from examsvc.camera.models import (
    ClientEvent,
    ClientEventKind,
    EntryCheck,
    EntryOutcome,
    EntryOverride,
    FaceConsent,
    LivenessChallenge,
    Snapshot,
    SnapshotStatus,
)
from examsvc.camera.queries import consent_of
from examsvc.enums import AttemptStatus
from examsvc.errors import Invalid, Refused
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.metrics import SNAPSHOTS_ANALYSED
from examsvc.roster.models import Physician
from examsvc.signals import attempt_changed
from proctoring import liveness

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


def issue_challenge(
    physician_id: int, device: str, *, now: datetime, rng: random.Random | None = None
) -> LivenessChallenge:
    """活体检测: the server's random challenge for this physician's next verification on this
    device (``device``: the session's token); earlier unused ones are void."""
    use_challenges(physician_id, device, now=now)
    challenge = LivenessChallenge(
        physician_id=physician_id,
        device=rules.device_key(device),
        challenge=liveness.choose(rng),
        issued_at=now,
    )
    db.session.add(challenge)
    db.session.flush()
    return challenge


def use_challenges(physician_id: int, device: str, *, now: datetime) -> None:
    """The device's unused challenges are used up (a verification was judged)."""
    db.session.execute(
        sa.update(LivenessChallenge)
        .where(
            LivenessChallenge.physician_id == physician_id,
            LivenessChallenge.device == rules.device_key(device),
            LivenessChallenge.used_at.is_(None),
        )
        .values(used_at=now)
    )


def pending_challenge(physician_id: int, device: str, *, now: datetime) -> LivenessChallenge | None:
    """The challenge this device was given and has not used, unless it is too old."""
    return db.session.scalars(
        sa.select(LivenessChallenge)
        .where(
            LivenessChallenge.physician_id == physician_id,
            LivenessChallenge.device == rules.device_key(device),
            LivenessChallenge.used_at.is_(None),
            LivenessChallenge.issued_at >= now - timedelta(minutes=rules.CHALLENGE_MINUTES),
        )
        .order_by(LivenessChallenge.issued_at.desc(), LivenessChallenge.id.desc())
        .limit(1)
    ).first()


def record_entry_check(
    physician_id: int,
    paper_id: int | None,
    result: dict[str, Any],
    frames: list[bytes],
    *,
    device: str | None,
    now: datetime,
    data_dir: str,
    purpose: str = "entry",
) -> EntryCheck:
    """Store one entry verification (or, ``purpose="claim"``, the one before the first
    password): the engine's decision and measurements (without encodings), with the
    liveness verdict when one was asked; its frames (and those of the movement) as files
    under ``data_dir/entry/``; the encodings it enrolled."""
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
        purpose=purpose,
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


ENCODING_BYTES = 128 * 8
CONNECTION_KINDS = (ClientEventKind.DISCONNECTED, ClientEventKind.RECONNECTED)


def candidate_attempt(attempt_id: int, physician_ids: list[int]) -> Attempt:
    """The attempt, if it is one of the logged-in physician's and still in progress."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.physician_id not in physician_ids:
        raise Refused("not_found", N_("没有这次测评"), status=404)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Refused("attempt_closed", N_("本次测评已结束"))
    return attempt


def flagged_clause(attempt_id: Any) -> sa.ColumnElement[bool]:
    """Photographed more often: the latest analysed snapshot is not ok, or a flagged snapshot
    or an entry verification awaits an invigilator's review (SQL, true or NULL)."""
    latest = (
        sa.select(Snapshot.status)
        .where(
            Snapshot.attempt_id == attempt_id,
            Snapshot.status.not_in([SnapshotStatus.PENDING, SnapshotStatus.SKIPPED]),
        )
        .order_by(Snapshot.received_at.desc(), Snapshot.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    unreviewed = sa.exists().where(
        Snapshot.attempt_id == attempt_id,
        Snapshot.status.in_(rules.FLAGGING),
        Snapshot.reviewed_at.is_(None),
    )
    entry = sa.exists().where(
        EntryCheck.attempt_id == attempt_id,
        EntryCheck.outcome == EntryOutcome.REVIEW,
        EntryCheck.reviewed_at.is_(None),
    )
    return sa.or_(latest.in_(list(rules.FLAGGING)), unreviewed, entry)


def is_flagged(attempt_id: int) -> bool:
    return bool(db.session.scalar(sa.select(flagged_clause(attempt_id))))


def next_in(attempt_id: int, *, mean_seconds: float, rng: random.Random) -> float:
    """Seconds until the candidate's next snapshot (the server decides)."""
    return rules.next_snapshot_in(mean_seconds, is_flagged(attempt_id), rng)


def enrolled_clause(attempt_id: Any, physician_id: Any) -> sa.ColumnElement[bytes | None]:
    """The face encodings enrolled at entry, for the continuity check (SQL): the attempt's
    latest entry verification that enrolled any, else the physician's latest."""
    base = sa.select(EntryCheck.enrolled).where(EntryCheck.enrolled.is_not(None))
    order = (EntryCheck.checked_at.desc(), EntryCheck.id.desc())
    return sa.func.coalesce(
        base.where(EntryCheck.attempt_id == attempt_id).order_by(*order).limit(1).scalar_subquery(),
        base.where(EntryCheck.physician_id == physician_id)
        .order_by(*order)
        .limit(1)
        .scalar_subquery(),
    )


def encodings(blob: bytes | None) -> list[bytes]:
    if not blob:
        return []
    return [blob[i : i + ENCODING_BYTES] for i in range(0, len(blob), ENCODING_BYTES)]


def enrolled_encodings(attempt: Attempt) -> list[bytes]:
    return encodings(
        db.session.scalar(sa.select(enrolled_clause(attempt.id, attempt.physician_id)))
    )


@dataclass(frozen=True)
class StoredSnapshot:
    id: int
    attempt_id: int
    path: Path  # the file, for the analysis
    enrolled: list[bytes]
    flagged: bool  # analysed before routine snapshots when the pool is busy


def store_snapshot(
    attempt: Attempt,
    image: bytes,
    *,
    taken_at: datetime | None,
    now: datetime,
    data_dir: Path,
    mean_seconds: float,
) -> StoredSnapshot:
    """Check and store a snapshot: its file under ``data_dir/snapshots/<attempt>/`` (mode
    0600) and its row, PENDING until analysed."""
    if len(image) > rules.MAX_BYTES:
        raise Invalid(
            "snapshot_too_large",
            N_("照片过大（最大 {kb} KB）"),
            [{"field": "image", "message": N_("照片过大")}],
            kb=rules.MAX_BYTES // 1024,
        )
    kind = rules.image_type(image)
    if kind is None:
        raise Invalid(
            "not_an_image",
            N_("照片格式无法识别（应为 JPEG 或 PNG）"),
            [{"field": "image", "message": N_("应为 JPEG 或 PNG 图片")}],
        )
    since = now - timedelta(seconds=rules.rate_window(mean_seconds))
    recent, flagged, enrolled = db.session.execute(  # one statement on the hot path
        sa.select(
            sa.select(sa.func.count())
            .where(Snapshot.attempt_id == attempt.id, Snapshot.received_at > since)
            .scalar_subquery(),
            flagged_clause(attempt.id),
            enrolled_clause(attempt.id, attempt.physician_id),
        )
    ).one()
    if (recent or 0) >= rules.max_snapshots_in_window(mean_seconds):
        raise Refused("too_many_snapshots", N_("拍照过于频繁，请稍后"), status=429)
    snapshot = Snapshot(
        attempt_id=attempt.id,
        received_at=now,
        taken_at=taken_at,
        size=len(image),
        status=SnapshotStatus.PENDING,
        flags=[],
        measurements={},
    )
    db.session.add(snapshot)
    db.session.flush()
    relative = (
        Path("snapshots") / str(attempt.id) / f"{snapshot.id}.{'png' if kind == 'png' else 'jpg'}"
    )
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(image)
    snapshot.path = relative.as_posix()
    attempt_changed.send(attempt.id)
    # Flagged as before this snapshot: it is PENDING, which the rule does not read.
    return StoredSnapshot(snapshot.id, attempt.id, target, encodings(enrolled), bool(flagged))


def unanalysed_snapshots(
    data_dir: Path, *, received_before: datetime | None = None, limit: int | None = None
) -> list[StoredSnapshot]:
    """The snapshots still PENDING, oldest first: after a process that was analysing them
    died (kill -9, a crash), the next one to start hands them to the engine again; with
    Redis, the periodic re-queue hands on those received before ``received_before``."""
    query = sa.select(Snapshot).where(
        Snapshot.status == SnapshotStatus.PENDING, Snapshot.path.is_not(None)
    )
    if received_before is not None:
        query = query.where(Snapshot.received_at < received_before)
    found = []
    for snapshot in db.session.scalars(query.order_by(Snapshot.id).limit(limit)):
        found.append(
            StoredSnapshot(
                snapshot.id,
                snapshot.attempt_id,
                data_dir / str(snapshot.path),
                enrolled_encodings(snapshot.attempt),
                is_flagged(snapshot.attempt_id),
            )
        )
    return found


def _undecided(snapshot_id: int) -> Snapshot | None:
    """The snapshot, locked, if it still waits for its decision (PostgreSQL: a second
    recorder waits for the first to commit, then sees its decision)."""
    snapshot = db.session.get(Snapshot, snapshot_id, with_for_update=True)
    if snapshot is None or snapshot.status != SnapshotStatus.PENDING:
        return None
    return snapshot


def record_analysis(snapshot_id: int, result: dict[str, Any], *, now: datetime) -> Snapshot | None:
    """The engine's decision on a snapshot: its status, flags, distance and measurements.
    Recorded once: a snapshot decided already (analysed twice after a re-queue) is left as
    it is (None)."""
    snapshot = _undecided(snapshot_id)
    if snapshot is None:
        return None
    snapshot.status = rules.status_of(result)
    if result.get("error"):
        snapshot.flags = [str(result["error"])]
        snapshot.measurements = {"error": result["error"]}
    else:
        snapshot.flags = list(result.get("flags", []))
        snapshot.distance = result.get("distance")
        snapshot.measurements = {
            "face_count": result.get("face_count"),
            "box": result.get("box"),
            "issues": [issue.get("code") for issue in result.get("issues", [])],
            **(result.get("measurements") or {}),
        }
    snapshot.analysed_at = now
    db.session.flush()
    SNAPSHOTS_ANALYSED.labels(str(snapshot.status)).inc()
    attempt_changed.send(snapshot.attempt_id)
    return snapshot


def record_unanalysed(
    snapshot_id: int, status: SnapshotStatus, reason: str, *, now: datetime
) -> Snapshot | None:
    """A snapshot the engine did not decide: SKIPPED (shed under load: a newer one of the
    candidate replaced it) or ERROR (the worker failed or timed out). Recorded once, as
    :func:`record_analysis`."""
    snapshot = _undecided(snapshot_id)
    if snapshot is None:
        return None
    snapshot.status = status
    snapshot.measurements = {"reason": reason}
    snapshot.analysed_at = now
    db.session.flush()
    SNAPSHOTS_ANALYSED.labels(str(status)).inc()
    attempt_changed.send(snapshot.attempt_id)
    return snapshot


def record_client_event(
    attempt: Attempt,
    kind: ClientEventKind,
    *,
    now: datetime,
    client_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> ClientEvent:
    """A page event (hidden, blur, camera stopped, full screen left …) with the server's time."""
    event = ClientEvent(
        attempt_id=attempt.id, kind=kind, at=now, client_at=client_at, details=details or {}
    )
    db.session.add(event)
    db.session.flush()
    attempt_changed.send(attempt.id)
    return event


def in_progress_attempts(physician_ids: list[int]) -> list[Attempt]:
    if not physician_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Attempt).where(
                Attempt.physician_id.in_(physician_ids),
                Attempt.status == AttemptStatus.IN_PROGRESS,
            )
        )
    )


def last_connection_event(attempt_id: int) -> ClientEventKind | None:
    return db.session.scalar(
        sa.select(ClientEvent.kind)
        .where(ClientEvent.attempt_id == attempt_id, ClientEvent.kind.in_(CONNECTION_KINDS))
        .order_by(ClientEvent.at.desc(), ClientEvent.id.desc())
        .limit(1)
    )


def record_disconnected(physician_ids: list[int], *, now: datetime) -> list[int]:
    """The candidate's last exam connection dropped: DISCONNECTED on each in-progress attempt."""
    attempts = in_progress_attempts(physician_ids)
    for attempt in attempts:
        if last_connection_event(attempt.id) != ClientEventKind.DISCONNECTED:
            record_client_event(attempt, ClientEventKind.DISCONNECTED, now=now)
    return [a.id for a in attempts]


def record_reconnected(attempt: Attempt, *, now: datetime) -> bool:
    """The page joined its attempt again after a DISCONNECTED: RECONNECTED."""
    if last_connection_event(attempt.id) != ClientEventKind.DISCONNECTED:
        return False
    record_client_event(attempt, ClientEventKind.RECONNECTED, now=now)
    return True
