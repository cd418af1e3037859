"""Decisions from frames: the registration photo, entry verification, snapshots.

Two stages, because an ID photo and a webcam differ: *entry* compares several live
frames with the registration photo (a looser, East-Asian-calibrated threshold) and
enrols them; *continuity* compares later snapshots with the enrolled frames (same
camera, same light: a tighter threshold) to catch a substitute mid-exam.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from proctoring import faces, quality
from proctoring.config import AGGREGATES, DEFAULT, FaceConfig
from proctoring.frames import FrameError, decode

UNUSABLE = {"dark", "overexposed", "face_too_small"}


@dataclass
class FrameAnalysis:
    """What one frame shows: faces, camera quality, covered face, and the encoding."""

    face_count: int
    box: faces.Box | None = None
    encoding: np.ndarray | None = None
    issues: list[quality.Issue] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)

    def codes(self) -> list[str]:
        return [issue.code for issue in self.issues]

    @property
    def usable(self) -> bool:
        """One face, light and size good enough to trust an identity comparison."""
        return self.face_count == 1 and not UNUSABLE & set(self.codes())

    def as_dict(self) -> dict[str, Any]:
        return {
            "face_count": self.face_count,
            "box": self.box.as_dict() if self.box else None,
            "issues": [issue.as_dict() for issue in self.issues],
            "measurements": self.measurements,
        }


def analyse(
    image: np.ndarray,
    config: FaceConfig = DEFAULT,
    *,
    encode: bool = True,
    upsample_fallback: bool = False,
) -> FrameAnalysis:
    """Detect, check the camera, look for a covered face, and encode only a usable face."""
    started = time.perf_counter()
    boxes = faces.detect(image, config, upsample_fallback=upsample_fallback)
    detected = time.perf_counter()
    result = FrameAnalysis(face_count=len(boxes))
    if len(boxes) != 1:
        report = quality.camera_check(image, None, config)
        result.issues = [
            quality.Issue.of("no_face" if not boxes else "multiple_faces"),
            *report.issues,
        ]
        result.measurements = {**report.measurements, "boxes": [b.as_dict() for b in boxes]}
    else:
        result.box = boxes[0]
        report = quality.camera_check(image, result.box, config)
        found = faces.shape(image, result.box)  # once, for the covered check and the chip
        covered = quality.covered_face(image, result.box, faces.features(found), config)
        result.issues = report.issues + covered.issues
        result.measurements = {**report.measurements, **covered.measurements}
        if encode and result.usable:
            encoded = time.perf_counter()
            result.encoding = faces.encode(image, found, encoder=config.encoder)
            result.measurements["ms_encode"] = round((time.perf_counter() - encoded) * 1000, 1)
    result.measurements["ms_detect"] = round((detected - started) * 1000, 1)
    result.measurements["ms_total"] = round((time.perf_counter() - started) * 1000, 1)
    return result


# --- the registration photo --------------------------------------------------------------


@dataclass
class PhotoCheck:
    ok: bool
    reason_code: str | None
    reason_zh: str | None
    reason_en: str | None
    encoding: np.ndarray | None = None
    box: faces.Box | None = None
    measurements: dict[str, Any] = field(default_factory=dict)

    def encoding_bytes(self) -> bytes | None:
        return None if self.encoding is None else faces.to_bytes(self.encoding)


_PHOTO_REASONS = {
    "no_face": ("照片中未检测到人脸", "No face found in the photo"),
    "multiple_faces": ("照片中有多张人脸", "More than one face in the photo"),
    "face_too_small": ("照片中人脸过小", "The face in the photo is too small"),
    "dark": ("照片过暗", "The photo is too dark"),
    "overexposed": ("照片过度曝光", "The photo is over-exposed"),
}


def check_registration_photo(data: bytes, config: FaceConfig | None = None) -> PhotoCheck:
    """A registration photo must decode, be ≤ 2 MB and show exactly one usable face."""
    config = config or DEFAULT
    try:
        image = decode(data, config)
    except FrameError as exc:
        return PhotoCheck(False, exc.code, exc.message_zh, exc.message_en)
    # ID photos are tight crops: whatever the frame size, a face of min_face_px will do.
    photo_config = FaceConfig(**{**config.__dict__, "min_face_fraction": 0.0})
    analysis = analyse(image, photo_config, upsample_fallback=True)
    measurements = analysis.measurements | {"width": image.shape[1], "height": image.shape[0]}
    for code in ("no_face", "multiple_faces", "face_too_small", "dark", "overexposed"):
        if code in analysis.codes():
            zh, en = _PHOTO_REASONS[code]
            return PhotoCheck(False, code, zh, en, box=analysis.box, measurements=measurements)
    assert analysis.encoding is not None
    return PhotoCheck(True, None, None, None, analysis.encoding, analysis.box, measurements)


# --- entry verification ------------------------------------------------------------------


def frame_weight(measurements: dict[str, Any]) -> float:
    """How much a frame's identity is to be trusted: sharp and big faces count fully,
    blurred or small ones less (the ``quality`` aggregate)."""
    sharp = min(1.0, float(measurements.get("sharpness", 200.0)) / 200.0)
    size = min(1.0, float(measurements.get("face_px", 120)) / 120.0)
    return max(0.05, sharp * size)


def aggregate(
    encodings: list[np.ndarray],
    reference: np.ndarray,
    method: str = "median",
    weights: list[float] | None = None,
) -> float:
    """One distance from several frames to the reference (bench/bench_aggregation.py
    measures the methods against each other):

    - ``median``: the median of the frames' distances;
    - ``mean_best``: the mean of the best half (at least two) of the distances;
    - ``vote``: the distance a strict majority of frames is within (the ⌊n/2⌋+1-th smallest);
    - ``quality``: the mean distance weighted by ``frame_weight``;
    - ``centroid``: the distance of the mean encoding.
    """
    if not encodings:
        raise ValueError("no encodings to aggregate")
    distances = np.array([faces.distance(e, reference) for e in encodings])
    ordered = np.sort(distances)
    if method == "median":
        return float(np.median(distances))
    if method == "mean_best":
        k = max(2, len(ordered) // 2) if len(ordered) > 1 else 1
        return float(ordered[:k].mean())
    if method == "vote":
        return float(ordered[len(ordered) // 2])
    if method == "quality":
        w = np.array(weights if weights is not None else [1.0] * len(encodings), dtype=float)
        return float((distances * w).sum() / w.sum())
    if method == "centroid":
        return float(faces.distance(np.mean(np.stack(encodings), axis=0), reference))
    raise ValueError(f"unknown aggregate {method!r}; one of {', '.join(AGGREGATES)}")


def band(distance: float, strict: float, loose: float) -> str:
    """``accept`` within the strict threshold, ``review`` up to the loose one, else ``reject``."""
    if distance <= strict:
        return "accept"
    return "review" if distance <= loose else "reject"


@dataclass
class EntryDecision:
    passed: bool  # True only for "passed"
    code: str  # passed | review | mismatch | retry | multiple_faces
    message_zh: str
    message_en: str
    distances: list[float]
    enrolled: list[np.ndarray]
    frames: list[dict[str, Any]]
    distance: float | None = None  # the aggregate the decision compared with the thresholds
    thresholds: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "distances": self.distances,
            "median_distance": round(statistics.median(self.distances), 4)
            if self.distances
            else None,
            "distance": None if self.distance is None else round(self.distance, 4),
            "thresholds": self.thresholds,
            "frames": self.frames,
        }


def verify_entry(
    frames: list[bytes], reference: np.ndarray | bytes, config: FaceConfig | None = None
) -> EntryDecision:
    """Several live frames against the registration photo: within the strict threshold the
    candidate passes, between the strict and the loose one an invigilator reviews (the
    candidate may continue), beyond it the face does not match. Frames are enrolled (for
    the continuity checks) on a pass and on a review."""
    config = config or DEFAULT
    ref = faces.from_bytes(reference) if isinstance(reference, bytes) else reference
    analyses: list[FrameAnalysis] = []
    reports: list[dict[str, Any]] = []
    for data in frames:
        try:
            analysis = analyse(decode(data, config), config)
        except FrameError as exc:
            reports.append({"error": exc.code})
            continue
        analyses.append(analysis)
        reports.append(analysis.as_dict())
    thresholds = {
        "accept": config.entry_accept,
        "reject": config.entry_reject,
        "aggregate": config.entry_aggregate,
    }
    if any(a.face_count > 1 for a in analyses):
        zh, en = quality.INSTRUCTIONS["multiple_faces"]
        return EntryDecision(False, "multiple_faces", zh, en, [], [], reports, None, thresholds)
    usable = [a for a in analyses if a.usable and a.encoding is not None]
    distances = [
        round(faces.distance(a.encoding, ref), 4) for a in usable if a.encoding is not None
    ]
    for report, analysis in zip((r for r in reports if "error" not in r), analyses, strict=False):
        if analysis.encoding is not None:
            report["distance"] = round(faces.distance(analysis.encoding, ref), 4)
    if len(usable) < config.entry_min_frames:
        codes = [c for a in analyses for c in a.codes()]
        first = next((c for c in codes if c in quality.INSTRUCTIONS), "no_face")
        zh, en = quality.INSTRUCTIONS[first]
        return EntryDecision(False, "retry", zh, en, distances, [], reports, None, thresholds)
    encodings = [a.encoding for a in usable if a.encoding is not None]
    weights = [frame_weight(a.measurements) for a in usable]
    distance = aggregate(encodings, ref, config.entry_aggregate, weights)
    verdict = band(distance, config.entry_accept, config.entry_reject)
    if verdict == "accept":
        return EntryDecision(
            True,
            "passed",
            "人脸验证通过",
            "Face verified",
            distances,
            encodings,
            reports,
            distance,
            thresholds,
        )
    if verdict == "review":
        return EntryDecision(
            False,
            "review",
            "人脸相似度不足以自动确认，请继续，监考人员将人工核验",
            "The face could not be confirmed automatically: continue; an invigilator will check",
            distances,
            encodings,
            reports,
            distance,
            thresholds,
        )
    return EntryDecision(
        False,
        "mismatch",
        "人脸与报名照片不一致，请本人参加考试",
        "The face does not match the registration photo",
        distances,
        [],
        reports,
        distance,
        thresholds,
    )


# --- snapshots during the exam -----------------------------------------------------------


@dataclass
class SnapshotDecision:
    flags: list[str]
    distance: float | None
    analysis: FrameAnalysis

    @property
    def ok(self) -> bool:
        return not self.flags

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "flags": self.flags,
            "distance": self.distance,
            **self.analysis.as_dict(),
        }


def check_snapshot(
    data: bytes, enrolled: list[np.ndarray] | list[bytes], config: FaceConfig | None = None
) -> SnapshotDecision:
    """Flags for one snapshot: no face, several, camera problems, covered, and against the
    frames enrolled at entry ``mismatch`` beyond the loose continuity threshold or
    ``identity_uncertain`` between the strict and the loose one."""
    config = config or DEFAULT
    analysis = analyse(decode(data, config), config)
    flags = analysis.codes()
    distance = None
    if analysis.encoding is not None and enrolled:
        refs = [faces.from_bytes(e) if isinstance(e, bytes) else e for e in enrolled]
        distance = round(min(faces.distance(analysis.encoding, r) for r in refs), 4)
        verdict = band(distance, config.continuity_accept, config.continuity_reject)
        if verdict == "reject":
            flags.append("mismatch")
        elif verdict == "review":
            flags.append("identity_uncertain")
    return SnapshotDecision(flags, distance, analysis)


@dataclass
class FaceCount:
    count: int
    boxes: list[faces.Box]
    ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "boxes": [b.as_dict() for b in self.boxes], "ms": self.ms}


def count_faces(data: bytes, config: FaceConfig | None = None) -> FaceCount:
    """Only how many faces: a downscaled HOG pass (full size if it finds none), no encoding."""
    config = config or DEFAULT
    started = time.perf_counter()
    image = decode(data, config)
    boxes = faces.detect(image, config)
    return FaceCount(len(boxes), boxes, round((time.perf_counter() - started) * 1000, 1))
