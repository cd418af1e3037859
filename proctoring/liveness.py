"""Liveness (活体检测) against a photo held up to the camera: a challenge judged from the
68 landmarks over a short frame sequence.

The server picks a challenge at random (``choose``): blink, turn the head left or right,
open the mouth. Each frame gives three ratios that a printed photo cannot change by being
moved, scaled, rotated or re-lit — all are ratios of distances between landmarks of the
same face, so any 2-D similarity (and, for the yaw, any horizontal squash) leaves them as
they are:

- **eye aspect ratio** (EAR): the eyes' height over their width (Soukupová & Čech); a
  blink roughly halves it for a frame or two;
- **yaw**: where the nose tip sits between the outer eye corners, along the eye line, in
  units of the eye-corner distance (0 frontal; a real turn moves the nose, which stands out
  of the face plane, sideways — a print has no depth);
- **mouth aspect ratio** (MAR): the inner lips' opening over the mouth's width.

A print leaned back squashes the whole face vertically, which would lower the EAR (a fake
blink); turned about its vertical axis it narrows, which raises the MAR. Neither changes the
face's own proportions on a live face, so for the blink and the mouth every frame's upper-face
shape (nose length over the eye-corner distance, which blinks and a dropping jaw leave alone)
must stay within ``SHAPE_TOLERANCE`` of the first frames', or the frame does not count. (The
yaw ratio is unchanged by either squash, and a real head turn does narrow the face, so the
turns skip this test.) A challenge passes when the asked-for measure moves as asked against
the baseline (the first ``BASELINE`` frames) — for a turn or an open mouth in at least
``HOLD_FRAMES`` frames (one frame's landmarks may jump on a print), for a blink in one.

Limits: a video replay of the physician does all of this on request; nothing short of a
depth or infrared camera tells it from a face. The false-reject rate on real candidates is
not measured (no live sequences in the shared sets): see docs/face-verification.md.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from proctoring import faces
from proctoring.config import DEFAULT, FaceConfig
from proctoring.frames import FrameError, decode

CHALLENGES = ("blink", "turn_left", "turn_right", "open_mouth")
INSTRUCTIONS = {
    "blink": ("请眨眼", "Please blink"),
    "turn_left": ("请向左转头", "Please turn your head to the left"),
    "turn_right": ("请向右转头", "Please turn your head to the right"),
    "open_mouth": ("请张嘴", "Please open your mouth"),
}
BASELINE = 2  # frames before the movement
BLINK_RATIO = 0.6  # EAR below this share of the baseline: eyes closed
YAW_DELTA = 0.12  # nose offset (eye-corner distances) beyond the baseline: a turn
MOUTH_DELTA = 0.25  # MAR above the baseline by this much: mouth open
SHAPE_TOLERANCE = 0.10  # face height/width may change this much (else: a tilted print)
MIN_FRAMES = 5
HOLD_FRAMES = 2  # a turn or an open mouth must show in this many frames


@dataclass(frozen=True)
class Measures:
    ear: float
    yaw: float
    mar: float
    shape: float  # nose length (bridge top to base) over the eye-corner distance

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def choose(rng: random.Random | None = None) -> str:
    """The server's random challenge (never the client's choice)."""
    return (rng or random.SystemRandom()).choice(CHALLENGES)


def _eye(p: np.ndarray) -> float:
    return float(
        (np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4]))
        / (2 * max(1e-6, float(np.linalg.norm(p[0] - p[3]))))
    )


def measures(points: np.ndarray) -> Measures:
    """The three ratios (and the face shape) of one face's 68 landmarks (x, y)."""
    p = np.asarray(points, dtype=float)
    ear = (_eye(p[36:42]) + _eye(p[42:48])) / 2
    left, right = p[36], p[45]  # outer eye corners (image left, image right)
    axis = right - left
    span = max(1e-6, float(np.linalg.norm(axis)))
    yaw = float(np.dot(p[30] - (left + right) / 2, axis / span) / span)
    inner = p[60:68]
    opening = (
        np.linalg.norm(inner[1] - inner[7])
        + np.linalg.norm(inner[2] - inner[6])
        + np.linalg.norm(inner[3] - inner[5])
    ) / 3
    mar = float(opening / max(1e-6, float(np.linalg.norm(inner[0] - inner[4]))))
    shape = float(np.linalg.norm(p[27] - p[33]) / span)
    return Measures(ear, yaw, mar, shape)


def points_of(image: np.ndarray, config: FaceConfig = DEFAULT) -> np.ndarray | None:
    """The 68 landmarks of the one face in a frame, or None (no face or several)."""
    boxes = faces.detect(image, config)
    if len(boxes) != 1:
        return None
    found = faces.shape(image, boxes[0])
    return np.array([(found.part(i).x, found.part(i).y) for i in range(68)], dtype=float)


@dataclass
class Verdict:
    challenge: str
    passed: bool
    code: str  # passed | not_done | too_few_frames | unknown_challenge
    frames: int  # frames with one face whose shape held
    baseline: dict[str, float]
    extreme: float | None  # the most the asked-for measure moved
    series: list[dict[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _held(values: list[float]) -> float:
    """The largest value reached in at least ``HOLD_FRAMES`` frames: a turned head or an open
    mouth stays a moment, while one frame's landmarks may jump (a face cut by the frame's
    edge, a smile's lips on a tilted print). A blink is too short for this: one frame does."""
    ranked = sorted(values, reverse=True)
    return ranked[min(HOLD_FRAMES, len(ranked)) - 1]


def judge(challenge: str, series: list[Measures]) -> Verdict:
    """Did the asked-for measure move as asked, on frames whose face kept its shape?"""
    if challenge not in CHALLENGES:
        return Verdict(challenge, False, "unknown_challenge", 0, {}, None, [])
    shown = [m.as_dict() for m in series]
    if len(series) < MIN_FRAMES:
        return Verdict(challenge, False, "too_few_frames", len(series), {}, None, shown)
    base = Measures(
        *(
            float(np.median([getattr(m, f) for m in series[:BASELINE]]))
            for f in Measures.__annotations__
        )
    )
    kept = [
        m
        for m in series[BASELINE:]
        if challenge.startswith("turn_") or abs(m.shape / base.shape - 1) <= SHAPE_TOLERANCE
    ]
    if len(kept) + BASELINE < MIN_FRAMES:
        return Verdict(challenge, False, "too_few_frames", len(kept), base.as_dict(), None, shown)
    if challenge == "blink":
        extreme = min(m.ear for m in kept) / max(1e-6, base.ear)
        passed = extreme < BLINK_RATIO
    elif challenge == "turn_left":  # the candidate's left: the nose moves to the image right
        extreme = _held([m.yaw for m in kept]) - base.yaw
        passed = extreme > YAW_DELTA
    elif challenge == "turn_right":
        extreme = base.yaw + _held([-m.yaw for m in kept])
        passed = extreme > YAW_DELTA
    else:
        extreme = _held([m.mar for m in kept]) - base.mar
        passed = extreme > MOUTH_DELTA
    return Verdict(
        challenge,
        passed,
        "passed" if passed else "not_done",
        len(kept),
        base.as_dict(),
        round(float(extreme), 4),
        shown,
    )


def check(frames: list[bytes], challenge: str, config: FaceConfig | None = None) -> Verdict:
    """Judge a challenge on a frame sequence (JPEG bytes, oldest first)."""
    config = config or DEFAULT
    series = []
    for data in frames:
        try:
            found = points_of(decode(data, config), config)
        except FrameError:
            continue
        if found is not None:
            series.append(measures(found))
    return judge(challenge, series)
