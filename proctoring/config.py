"""Thresholds and limits, with defaults calibrated in docs/face-verification.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

ENCODERS = ("numpy", "dlib")


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
    # Verification distances (dlib 128-d embeddings, Euclidean)
    entry_threshold: float = 0.55  # live frames vs the registration photo (median of frames)
    continuity_threshold: float = 0.45  # later snapshots vs the frames enrolled at entry
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

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], prefix: str = "FACE_") -> FaceConfig:
        """Read ``FACE_ENTRY_THRESHOLD``-style keys (the web app's ``EXAMSVC_FACE_*``)."""
        changes: dict[str, Any] = {}
        for field in fields(cls):
            key = prefix + field.name.upper()
            if key in values and values[key] is not None:
                changes[field.name] = type(field.default)(values[key])  # type: ignore[misc]
        return replace(cls(), **changes)


DEFAULT = FaceConfig()
