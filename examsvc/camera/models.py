"""What the candidate's camera gave: consent, entry verifications, snapshots, client events.

Images are files under ``DATA_DIR`` (never under the web root); rows hold their path
relative to it, the engine's decision and its measurements. Face encodings enrolled at
entry stay in the database (``EntryCheck.enrolled``), never in a page or an event.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examsvc.accounts.models import User
from examsvc.attempts.models import Attempt
from examsvc.db import UTCDateTime, enum_column
from examsvc.extensions import Model
from examsvc.roster.models import Cycle, Physician


class EntryOutcome(StrEnum):
    """The engine's entry decision (``proctoring.engine.verify_entry``), and the overrides."""

    PASSED = "passed"  # below the strict threshold: verified
    REVIEW = "review"  # between the thresholds: may continue, an invigilator decides
    MISMATCH = "mismatch"  # above: not the registered person (retry)
    RETRY = "retry"  # not enough usable frames (light, distance …)
    MULTIPLE_FACES = "multiple_faces"
    NO_PHOTO = "no_photo"  # no usable registration photo to compare with
    OVERRIDDEN = "overridden"  # an administrator let the physician through (EntryOverride)


class SnapshotStatus(StrEnum):
    """A snapshot's status, most serious first in ``SNAPSHOT_SEVERITY``."""

    PENDING = "pending"  # stored, not analysed yet
    OK = "ok"
    NO_FACE = "no_face"  # left the seat
    MULTIPLE_FACES = "multiple_faces"
    MISMATCH = "mismatch"  # not the registered person (continuity with the entry frames)
    COVERED = "covered"  # covered face (mask, hand, sunglasses)
    POOR_CAMERA = "poor_camera"  # dark, over-exposed, blurred, too far
    SKIPPED = "skipped"  # shed under overload: a newer snapshot of the candidate replaced it
    ERROR = "error"  # could not be decoded or analysed


SNAPSHOT_SEVERITY = (
    SnapshotStatus.MISMATCH,
    SnapshotStatus.MULTIPLE_FACES,
    SnapshotStatus.NO_FACE,
    SnapshotStatus.COVERED,
    SnapshotStatus.POOR_CAMERA,
    SnapshotStatus.ERROR,
    SnapshotStatus.SKIPPED,
    SnapshotStatus.PENDING,
    SnapshotStatus.OK,
)

# Statuses that make a candidate "flagged" (photographed more often) until reviewed, and
# count as a proctoring flag in the statistics (an index finds those snapshots alone).
FLAGGING = frozenset(
    {
        SnapshotStatus.MISMATCH,
        SnapshotStatus.MULTIPLE_FACES,
        SnapshotStatus.NO_FACE,
        SnapshotStatus.COVERED,
        SnapshotStatus.POOR_CAMERA,
    }
)
# The flagged snapshots' index's condition, as a clause: a query that repeats it (not the
# same statuses as parameters, which SQLite cannot match to an index) may read that index.
FLAGGED_ROWS = sa.text("status IN (" + ", ".join(f"'{s.value}'" for s in sorted(FLAGGING)) + ")")


class ClientEventKind(StrEnum):
    """What the candidate's page reports of itself."""

    HIDDEN = "hidden"  # page hidden / app left (visibilitychange)
    VISIBLE = "visible"
    BLUR = "blur"  # window lost focus
    FOCUS = "focus"
    CAMERA_STOPPED = "camera_stopped"
    CAMERA_STARTED = "camera_started"
    DISCONNECTED = "disconnected"  # the socket dropped (recorded by the server)
    RECONNECTED = "reconnected"
    FULLSCREEN_EXIT = "fullscreen_exit"  # PC only
    FULLSCREEN_ENTER = "fullscreen_enter"


class FaceConsent(Model):
    """人脸信息采集授权: once per physician and cycle, with the version of the text agreed to."""

    __tablename__ = "face_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycles.id"))
    version: Mapped[str] = mapped_column(sa.String(20))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    address: Mapped[str | None] = mapped_column(sa.String(64))

    user: Mapped[User] = relationship()
    cycle: Mapped[Cycle] = relationship()

    __table_args__ = (sa.UniqueConstraint("user_id", "cycle_id", "version"),)


class EntryCheck(Model):
    """One entry face verification: frames against the registration photo, before starting
    (or resuming on another device). Its frames are files; ``decision`` holds the engine's
    measurements (distances, quality per frame); ``enrolled`` the encodings kept for the
    continuity checks of later snapshots (float64 × 128 each, concatenated)."""

    __tablename__ = "entry_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    physician_id: Mapped[int] = mapped_column(sa.ForeignKey("physicians.id"), index=True)
    paper_id: Mapped[int | None] = mapped_column(sa.ForeignKey("papers.id"))
    attempt_id: Mapped[int | None] = mapped_column(sa.ForeignKey("attempts.id"), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # ``entry`` (before an attempt) or ``claim`` (before the first password: only the
    # identity, never a key to an attempt).
    purpose: Mapped[str] = mapped_column(sa.String(10), default="entry", server_default="entry")
    outcome: Mapped[EntryOutcome] = mapped_column(enum_column(EntryOutcome, "entry_outcome"))
    distance: Mapped[float | None]  # the decision's aggregate distance
    decision: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    frames: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # paths under DATA_DIR
    # The browser session that verified (sha256 of its session's device token): one device,
    # one verification; another device verifies again.
    device: Mapped[str | None] = mapped_column(sa.String(64))
    enrolled: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # An invigilator's or administrator's decision on a REVIEW (or a confirmation).
    reviewed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_verdict: Mapped[str | None] = mapped_column(sa.String(20))  # same | different
    review_note: Mapped[str | None] = mapped_column(sa.String(300))

    physician: Mapped[Physician] = relationship()
    attempt: Mapped[Attempt | None] = relationship()


class LivenessChallenge(Model):
    """活体检测: the challenge the server chose for a physician's next verification on one
    device (blink, turn left or right, open the mouth: ``proctoring.liveness.CHALLENGES``).
    Chosen when the verification page opens and again after each try; used once."""

    __tablename__ = "liveness_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    physician_id: Mapped[int] = mapped_column(sa.ForeignKey("physicians.id"), index=True)
    device: Mapped[str] = mapped_column(sa.String(64))  # sha256 of the session's device token
    challenge: Mapped[str] = mapped_column(sa.String(20))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EntryOverride(Model):
    """An administrator lets a physician through without a passed verification (no usable
    photo, verification failing): who, when and why; the invigilators see it."""

    __tablename__ = "entry_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    physician_id: Mapped[int] = mapped_column(sa.ForeignKey("physicians.id"), index=True)
    granted_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(sa.String(300))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    physician: Mapped[Physician] = relationship()
    granter: Mapped[User] = relationship(foreign_keys=[granted_by])

    __table_args__ = (sa.CheckConstraint("length(reason) >= 2", name="override_has_reason"),)


class Snapshot(Model):
    """A snapshot taken during an attempt (随机抓拍), asked for by the server."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("attempts.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the client's clock
    path: Mapped[str | None] = mapped_column(sa.String(200))  # under DATA_DIR; None: purged
    size: Mapped[int]
    status: Mapped[SnapshotStatus] = mapped_column(
        enum_column(SnapshotStatus, "snapshot_status"), default=SnapshotStatus.PENDING
    )
    flags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # the engine's codes
    distance: Mapped[float | None]
    measurements: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    analysed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(sa.String(300))

    attempt: Mapped[Attempt] = relationship()

    __table_args__ = (
        sa.Index("ix_snapshots_attempt_received", "attempt_id", "received_at"),
        # The flagged snapshots only (a few in a hundred): the statistics' 监考异常.
        sa.Index(
            "ix_snapshots_flagged",
            "attempt_id",
            postgresql_where=FLAGGED_ROWS,
            sqlite_where=FLAGGED_ROWS,
        ),
        sa.CheckConstraint("size >= 0", name="snapshot_size_positive"),
    )


class ClientEvent(Model):
    """An event of the candidate's page (or of its connection), stored with the server's time."""

    __tablename__ = "client_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("attempts.id"))
    kind: Mapped[ClientEventKind] = mapped_column(enum_column(ClientEventKind, "client_event"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    client_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    __table_args__ = (sa.Index("ix_client_events_attempt_at", "attempt_id", "at"),)


class FaceCalibration(Model):
    """A versioned calibration of the face thresholds on a cycle's roster
    (``proctoring.calibration``): pairs of two physicians' registration encodings are
    impostor pairs of the very population examined; the thresholds are those whose FAR
    has a one-sided upper confidence bound within the targets. The latest one is what the
    engine uses (``examsvc.camera.calibration.effective_config``)."""

    __tablename__ = "face_calibrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # None: command
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycles.id"), index=True)
    people: Mapped[int]  # registration encodings used
    pairs: Mapped[int]  # impostor pairs measured
    all_pairs: Mapped[bool]
    confidence: Mapped[float]
    strict_far: Mapped[float]  # target FAR of the strict (accept) thresholds
    loose_far: Mapped[float]  # target FAR of the loose (review) thresholds
    entry_accept: Mapped[float]
    entry_reject: Mapped[float]
    entry_accept_far_upper: Mapped[float]
    entry_reject_far_upper: Mapped[float]
    continuity_accept: Mapped[float | None]  # None: too few pairs; the defaults stay
    continuity_reject: Mapped[float | None]
    # The FarThreshold of each, the impostor distance summary, the genuine evidence then.
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    seconds: Mapped[float]  # how long the computation took

    creator: Mapped[User | None] = relationship()
    cycle: Mapped[Cycle] = relationship()

    __table_args__ = (
        sa.CheckConstraint("entry_accept <= entry_reject", name="calibration_ordered"),
        sa.CheckConstraint("pairs > 0", name="calibration_has_pairs"),
    )
