"""Thresholds and limits, with defaults calibrated in docs/face-verification.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

ENCODERS = ("numpy", "dlib")
AGGREGATES = ("median", "mean_best", "vote", "quality", "centroid")


@dataclass(frozen=True)
class FaceConfig:
    # Frame intake
    max_bytes: int = 2 * 1024 * 1024  # the manuals' limit for the registration photo
    max_pixels: int = 40_000_000  # refuse before decoding (decompression bombs)
    working_long_side: int = 640
    # Detection: HOG on a downscaled copy with no upsampling; then full size if none found.
    detect_long_side: int = 320
    min_face_fraction: float = 0.12  # face width / frame width below this: too far away
    min_face_px: int = 60  # in the working frame; smaller faces encode unreliably
    # Verification distances (dlib 128-d embeddings, Euclidean), each a strict and a loose
    # threshold: below the strict one the engine accepts, between the two it asks a person
    # (entry "review", snapshot "identity_uncertain"), above the loose one it refuses
    # (entry "mismatch", snapshot "mismatch"). Conservative for East Asian faces until the
    # agency calibrates on its roster (docs/face-verification.md).
    entry_accept: float = 0.40  # live frames vs the registration photo (aggregate of frames)
    entry_reject: float = 0.50
    continuity_accept: float = 0.35  # later snapshots vs the frames enrolled at entry
    continuity_reject: float = 0.45
    entry_aggregate: str = "median"  # how several frames make one distance (engine.aggregate)
    entry_min_frames: int = 3  # usable frames needed for an entry decision
    # Identity model: face_recognition's ResNet on numpy's BLAS ("numpy") or dlib's ("dlib")
    encoder: str = "numpy"
    # Camera quality
    dark_mean: float = 60.0  # mean brightness of the face (0-255) below this: too dark
    bright_mean: float = 215.0
    saturated_share: float = 0.20  # share of face pixels at >= 250: over-exposed
    blur_variance: float = 60.0  # Laplacian variance of the 128x128 face below this: blurred
    off_centre: float = 0.30  # face centre further than this (fraction of size) from the middle
    # Covered face (suspected; for the invigilator)
    eye_darkness_ratio: float = 0.30  # eye regions much darker than the face: sunglasses
    lower_face_texture_ratio: float = 0.05  # mouth/nose much flatter than the eyes: mask/hand

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"FACE_ENCODER must be one of {', '.join(ENCODERS)}")
        if self.entry_aggregate not in AGGREGATES:
            raise ValueError(f"FACE_ENTRY_AGGREGATE must be one of {', '.join(AGGREGATES)}")
        if not 0 < self.entry_accept <= self.entry_reject:
            raise ValueError("FACE_ENTRY_ACCEPT must be > 0 and ≤ FACE_ENTRY_REJECT")
        if not 0 < self.continuity_accept <= self.continuity_reject:
            raise ValueError("FACE_CONTINUITY_ACCEPT must be > 0 and ≤ FACE_CONTINUITY_REJECT")

    def with_thresholds(
        self,
        entry: tuple[float, float] | None = None,
        continuity: tuple[float, float] | None = None,
    ) -> FaceConfig:
        """A copy with (strict, loose) thresholds replaced, e.g. from a calibration."""
        changes: dict[str, Any] = {}
        if entry is not None:
            changes |= {"entry_accept": entry[0], "entry_reject": entry[1]}
        if continuity is not None:
            changes |= {"continuity_accept": continuity[0], "continuity_reject": continuity[1]}
        return replace(self, **changes)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], prefix: str = "FACE_") -> FaceConfig:
        """Read ``FACE_ENTRY_THRESHOLD``-style keys (the web app's ``EXAMSVC_FACE_*``)."""
        changes: dict[str, Any] = {}
        # Before issue 12 there was one threshold per stage: it is now the loose one (and
        # the strict one when it is tighter than the strict default).
        for old, strict, loose in LEGACY:
            key = prefix + old.upper()
            if key in values and values[key] is not None:
                value = float(values[key])
                changes[loose] = value
                changes[strict] = min(value, getattr(cls(), strict))
        for field in fields(cls):
            key = prefix + field.name.upper()
            if key in values and values[key] is not None:
                changes[field.name] = type(field.default)(values[key])  # type: ignore[misc]
        return replace(cls(), **changes)


LEGACY = (
    ("entry_threshold", "entry_accept", "entry_reject"),
    ("continuity_threshold", "continuity_accept", "continuity_reject"),
)

DEFAULT = FaceConfig()
