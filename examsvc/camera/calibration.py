"""Face thresholds calibrated on the agency's own roster, and the thresholds in force.

Pairs of two physicians' registration encodings are impostor pairs of exactly the
population examined; ``proctoring.calibration`` turns their distances into thresholds for
the target false-accept rates. A calibration is stored, versioned, with who ran it, when,
and on how many pairs; the latest one is what every face job uses (``effective_config``),
else the conservative defaults of ``proctoring.config``. Genuine evidence comes from
entry verifications an invigilator or an administrator confirmed as the same person.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import has_app_context

from examsvc import offload
from examsvc.camera.models import EntryCheck, FaceCalibration

__all__ = ["FaceCalibration"]
from examsvc.extensions import db
from examsvc.roster.models import Cycle, Physician
from proctoring import calibration
from proctoring.config import FaceConfig

ENCODING_BYTES = 128 * 8  # float64 × 128


def base_config() -> FaceConfig:
    """The engine's defaults, with ``EXAMSVC_FACE_*`` overrides (thresholds included)."""
    return FaceConfig.from_mapping(os.environ, prefix="EXAMSVC_FACE_")


def latest() -> FaceCalibration | None:
    # No autoflush: face jobs read this just before ending a read-only transaction.
    with db.session.no_autoflush:
        return db.session.scalars(
            sa.select(FaceCalibration).order_by(FaceCalibration.version.desc()).limit(1)
        ).first()


def history(limit: int = 10) -> list[FaceCalibration]:
    return list(
        db.session.scalars(
            sa.select(FaceCalibration).order_by(FaceCalibration.version.desc()).limit(limit)
        )
    )


def apply(config: FaceConfig, calibrated: FaceCalibration | None) -> FaceConfig:
    """The config with a calibration's thresholds (continuity only when it measured them)."""
    if calibrated is None:
        return config
    continuity = None
    if calibrated.continuity_accept is not None and calibrated.continuity_reject is not None:
        continuity = (calibrated.continuity_accept, calibrated.continuity_reject)
    return config.with_thresholds(
        entry=(calibrated.entry_accept, calibrated.entry_reject), continuity=continuity
    )


def effective_config() -> FaceConfig:
    """The config face jobs run with: the latest calibration's thresholds when one exists
    (a read of one row), else the defaults. Outside an application (an RQ worker, a
    script) only the environment counts."""
    config = base_config()
    if not has_app_context():
        return config
    return apply(config, latest())


def people_for_pairs(pairs: int) -> int:
    """The fewest photos (of different people) that make ``pairs`` pairs."""
    people = 2
    while people * (people - 1) // 2 < pairs:
        people += 1
    return people


def roster_encodings(cycle_id: int) -> np.ndarray:
    """One row per physician of the cycle with a usable registration photo's encoding."""
    blobs = db.session.scalars(
        sa.select(Physician.face_encoding).where(
            Physician.cycle_id == cycle_id, Physician.face_encoding.is_not(None)
        )
    ).all()
    usable = [b for b in blobs if b is not None and len(b) == ENCODING_BYTES]
    if not usable:
        return np.empty((0, 128))
    return np.frombuffer(b"".join(usable), dtype=np.float64).reshape(len(usable), 128)


def roster_photo_count(cycle_id: int) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count()).where(
                Physician.cycle_id == cycle_id, Physician.face_encoding.is_not(None)
            )
        )
        or 0
    )


def confirmed_genuine() -> list[float]:
    """Aggregate distances of entry verifications confirmed as the same person."""
    distances = db.session.scalars(
        sa.select(EntryCheck.distance).where(
            EntryCheck.review_verdict == "same", EntryCheck.distance.is_not(None)
        )
    )
    return [float(d) for d in distances if d is not None]


@dataclass(frozen=True)
class Evidence:
    """What confirmed same-person entries say about the thresholds in force."""

    count: int
    frr_strict: float | None  # share sent to review
    frr_loose: float | None  # share refused


def genuine_evidence(config: FaceConfig) -> Evidence:
    rates = calibration.genuine_rates(confirmed_genuine(), config.entry_accept, config.entry_reject)
    return Evidence(
        int(rates["count"] or 0),
        None if rates["frr_strict"] is None else float(rates["frr_strict"]),
        None if rates["frr_loose"] is None else float(rates["frr_loose"]),
    )


def _compute(
    matrix: np.ndarray,
    strict_far: float,
    loose_far: float,
    max_pairs: int,
    seed: int | None,
) -> tuple[calibration.RosterCalibration, float]:
    """In a worker process under ``serve`` (module level: it is pickled there)."""
    started = time.perf_counter()
    result = calibration.calibrate(
        matrix,
        strict_far=strict_far,
        loose_far=loose_far,
        max_pairs=max_pairs,
        rng=np.random.default_rng(seed),
    )
    return result, time.perf_counter() - started


def calibrate_cycle(
    cycle: Cycle,
    *,
    strict_far: float,
    loose_far: float,
    actor_id: int | None,
    now: datetime,
    max_pairs: int = calibration.MAX_PAIRS,
    seed: int | None = None,
) -> FaceCalibration:
    """Measure the cycle's impostor pairs and store the next calibration version (flushed;
    the caller's unit commits). Raises ``calibration.NotEnoughPairs`` when the roster
    has too few usable photos for the targets."""
    matrix = roster_encodings(cycle.id)
    result, seconds = offload.process_call(_compute, matrix, strict_far, loose_far, max_pairs, seed)
    previous = latest()
    genuine = confirmed_genuine()
    evidence = calibration.genuine_rates(
        genuine, result.entry_accept.distance, result.entry_reject.distance
    )
    details: dict[str, Any] = {
        "entry_accept": result.entry_accept.as_dict(),
        "entry_reject": result.entry_reject.as_dict(),
        "continuity_accept": _maybe(result.continuity_accept),
        "continuity_reject": _maybe(result.continuity_reject),
        "enrolled_frames": result.enrolled_frames,
        "impostor": result.impostor,
        "genuine": evidence,
        "max_pairs": max_pairs,
        "seed": seed,
    }
    row = FaceCalibration(
        version=(previous.version + 1) if previous else 1,
        created_at=now,
        created_by=actor_id,
        cycle_id=cycle.id,
        people=result.people,
        pairs=result.pairs,
        all_pairs=result.all_pairs,
        confidence=result.entry_accept.confidence,
        strict_far=strict_far,
        loose_far=loose_far,
        entry_accept=result.entry_accept.distance,
        entry_reject=result.entry_reject.distance,
        entry_accept_far_upper=result.entry_accept.far_upper,
        entry_reject_far_upper=result.entry_reject.far_upper,
        continuity_accept=_distance(result.continuity_accept),
        continuity_reject=_distance(result.continuity_reject),
        details=details,
        seconds=round(seconds, 3),
    )
    db.session.add(row)
    db.session.flush()
    return row


def _maybe(threshold: calibration.FarThreshold | None) -> dict[str, Any] | None:
    return threshold.as_dict() if threshold else None


def _distance(threshold: calibration.FarThreshold | None) -> float | None:
    return threshold.distance if threshold else None
