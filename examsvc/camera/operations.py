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
from typing import Any, cast

import sqlalchemy as sa

from examsvc.accounts.models import User
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
from examsvc.enums import AttemptStatus, Role
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


# ``candidate_attempt``'s decision for the snapshot's hot path, the session's user checked as
# ``current_user`` checks it (exists, active, this session version) and a physician, in one
# statement built once: the attempt's id and physician, no ORM object loaded.
_CANDIDATE = (
    sa.select(Attempt.id, Attempt.physician_id)
    .join(Physician, Physician.id == Attempt.physician_id)
    .join(User, User.id == Physician.user_id)
    .where(
        Attempt.id == sa.bindparam("attempt_id"),
        Attempt.status == AttemptStatus.IN_PROGRESS,
        User.id == sa.bindparam("user_id"),
        User.active.is_(True),
        User.session_version == sa.bindparam("sv"),
        User.role == Role.PHYSICIAN,
    )
)


def candidate_ref(attempt_id: int, user_id: int, session_version: int) -> tuple[int, int] | None:
    """(attempt id, physician id) when the attempt is one of this logged-in physician's and
    in progress; None otherwise (``candidate_attempt`` then says why)."""
    row = db.session.execute(
        _CANDIDATE, {"attempt_id": attempt_id, "user_id": user_id, "sv": session_version}
    ).first()
    return None if row is None else (row[0], row[1])


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


_SNAPSHOTS = cast(sa.Table, Snapshot.__table__)


def _bound(*names: str, prefix: str = "") -> dict[str, Any]:
    return {name: sa.bindparam(prefix + name, type_=_SNAPSHOTS.c[name].type) for name in names}


# What a new snapshot is checked against, in one statement built once: the attempt's
# snapshots received since the rate window's start, whether it is flagged, the encodings
# enrolled at entry.
_CHECKS = sa.select(
    sa.select(sa.func.count())
    .where(
        Snapshot.attempt_id == sa.bindparam("attempt_id"),
        Snapshot.received_at > sa.bindparam("since"),
    )
    .scalar_subquery(),
    flagged_clause(sa.bindparam("attempt_id")),
    enrolled_clause(sa.bindparam("attempt_id"), sa.bindparam("physician_id")),
)

# A snapshot's row in one INSERT … RETURNING built once (its file is named without its id:
# no second statement to store the path). The same SQL on SQLite (3.35+) and PostgreSQL.
_INSERT = (
    sa.insert(_SNAPSHOTS)
    .values(
        **_bound("attempt_id", "received_at", "taken_at", "path", "size"),
        status=sa.bindparam("status", SnapshotStatus.PENDING, type_=_SNAPSHOTS.c.status.type),
        flags=sa.bindparam("flags", [], type_=_SNAPSHOTS.c.flags.type),
        measurements=sa.bindparam("measurements", {}, type_=_SNAPSHOTS.c.measurements.type),
    )
    .returning(_SNAPSHOTS.c.id)
)


def snapshot_name(now: datetime, kind: str) -> str:
    """A new snapshot's file name under its attempt's folder: the time received and 64
    random bits (unique without the row's id, which the INSERT that stores it returns)."""
    return f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(8)}.{'png' if kind == 'png' else 'jpg'}"


def store_snapshot(
    attempt_id: int,
    physician_id: int,
    image: bytes,
    *,
    taken_at: datetime | None,
    now: datetime,
    data_dir: Path,
    mean_seconds: float,
) -> StoredSnapshot:
    """Check and store a snapshot of the attempt (``physician_id``'s, in progress: the
    caller checked): its row, PENDING until analysed, then its file under
    ``data_dir/snapshots/<attempt>/`` (mode 0600, never overwriting one). Two statements:
    the checks' read and the INSERT."""
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
    recent, flagged, enrolled = db.session.execute(
        _CHECKS, {"attempt_id": attempt_id, "physician_id": physician_id, "since": since}
    ).one()
    if (recent or 0) >= rules.max_snapshots_in_window(mean_seconds):
        raise Refused("too_many_snapshots", N_("拍照过于频繁，请稍后"), status=429)
    relative = f"snapshots/{attempt_id}/{snapshot_name(now, kind)}"
    snapshot_id = db.session.execute(
        _INSERT,
        {
            "attempt_id": attempt_id,
            "received_at": now,
            "taken_at": taken_at,
            "path": relative,
            "size": len(image),
        },
    ).scalar_one()
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(image)
    attempt_changed.send(attempt_id)
    # Flagged as before this snapshot: it is PENDING, which the rule does not read.
    return StoredSnapshot(snapshot_id, attempt_id, target, encodings(enrolled), bool(flagged))


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


def _decision(*names: str) -> Any:
    """A decision's UPDATE, built once: only a PENDING snapshot takes it, and the row back
    (its attempt) says it did. Two recorders at once (a re-queue beside a late first job)
    write it once: PostgreSQL's second UPDATE waits for the first to commit, then finds
    the row no longer PENDING; SQLite runs one writer at a time."""
    return (
        sa.update(_SNAPSHOTS)
        .where(
            _SNAPSHOTS.c.id == sa.bindparam("snapshot_id"),
            _SNAPSHOTS.c.status == SnapshotStatus.PENDING,
        )
        .values(_bound(*names, prefix="new_"))
        .returning(_SNAPSHOTS.c.attempt_id)
    )


_ANALYSED = _decision("status", "flags", "distance", "measurements", "analysed_at")
_UNANALYSED = _decision("status", "measurements", "analysed_at")


def _decide(
    statement: Any, snapshot_id: int, status: SnapshotStatus, values: dict[str, Any]
) -> SnapshotStatus | None:
    attempt_id = db.session.execute(
        statement,
        {"snapshot_id": snapshot_id, "new_status": status}
        | {f"new_{name}": value for name, value in values.items()},
    ).scalar()
    if attempt_id is None:  # decided already, or no such snapshot
        return None
    SNAPSHOTS_ANALYSED.labels(str(status)).inc()
    attempt_changed.send(attempt_id)
    return status


def record_analysis(
    snapshot_id: int, result: dict[str, Any], *, now: datetime
) -> SnapshotStatus | None:
    """The engine's decision on a snapshot: its status, flags, distance and measurements,
    in one statement. Recorded once: a snapshot decided already (analysed twice after a
    re-queue) is left as it is (None); else the status recorded."""
    if result.get("error"):
        values: dict[str, Any] = {
            "flags": [str(result["error"])],
            "distance": None,
            "measurements": {"error": result["error"]},
        }
    else:
        values = {
            "flags": list(result.get("flags", [])),
            "distance": result.get("distance"),
            "measurements": {
                "face_count": result.get("face_count"),
                "box": result.get("box"),
                "issues": [issue.get("code") for issue in result.get("issues", [])],
                **(result.get("measurements") or {}),
            },
        }
    return _decide(_ANALYSED, snapshot_id, rules.status_of(result), values | {"analysed_at": now})


def record_unanalysed(
    snapshot_id: int, status: SnapshotStatus, reason: str, *, now: datetime
) -> SnapshotStatus | None:
    """A snapshot the engine did not decide: SKIPPED (shed under load: a newer one of the
    candidate replaced it) or ERROR (the worker failed or timed out). Recorded once, as
    :func:`record_analysis`."""
    return _decide(
        _UNANALYSED, snapshot_id, status, {"measurements": {"reason": reason}, "analysed_at": now}
    )


def record_client_event(
    attempt: Attempt | int,
    kind: ClientEventKind,
    *,
    now: datetime,
    client_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> ClientEvent:
    """A page event (hidden, blur, camera stopped, full screen left …) with the server's time,
    of ``attempt`` (the row or its id)."""
    attempt_id = attempt if isinstance(attempt, int) else attempt.id
    event = ClientEvent(
        attempt_id=attempt_id, kind=kind, at=now, client_at=client_at, details=details or {}
    )
    db.session.add(event)
    db.session.flush()
    attempt_changed.send(attempt_id)
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


def _last_connection_kind(attempt_id: Any) -> sa.Select[Any]:
    return (
        sa.select(ClientEvent.kind)
        .where(ClientEvent.attempt_id == attempt_id, ClientEvent.kind.in_(CONNECTION_KINDS))
        .order_by(ClientEvent.at.desc(), ClientEvent.id.desc())
        .limit(1)
    )


def last_connection_event(attempt_id: int) -> ClientEventKind | None:
    return db.session.scalar(_last_connection_kind(attempt_id))


def record_disconnected(physician_ids: list[int], *, now: datetime) -> list[int]:
    """The candidate's last exam connection dropped: DISCONNECTED on each in-progress attempt."""
    attempts = in_progress_attempts(physician_ids)
    for attempt in attempts:
        if last_connection_event(attempt.id) != ClientEventKind.DISCONNECTED:
            record_client_event(attempt, ClientEventKind.DISCONNECTED, now=now)
    return [a.id for a in attempts]


# What the page's (re)join reads, in one statement built once: the attempt's last connection
# event (``last_connection_event``) and whether it is flagged (``is_flagged``).
_REJOIN = sa.select(
    _last_connection_kind(sa.bindparam("attempt_id")).scalar_subquery(),
    flagged_clause(sa.bindparam("attempt_id")),
)


def rejoined(attempt_id: int, *, now: datetime, mean_seconds: float, rng: random.Random) -> float:
    """The page (re)joined the attempt, the candidate's in progress (the caller checked):
    RECONNECTED after a DISCONNECTED, and the seconds until the next snapshot (the server
    decides: sooner when flagged), with one read."""
    last, flagged = db.session.execute(_REJOIN, {"attempt_id": attempt_id}).one()
    if last == ClientEventKind.DISCONNECTED:
        record_client_event(attempt_id, ClientEventKind.RECONNECTED, now=now)
    return rules.next_snapshot_in(mean_seconds, bool(flagged), rng)
