"""Face detection, landmarks and encodings with face_recognition's models.

The models load on first use, once per process. Detection runs face_recognition's HOG
on a downscaled copy with no upsampling (about 6 ms instead of about 80 ms on a 640 px
frame); the box is mapped back, the 68 landmarks are found once, and the face is encoded
once at the working resolution: dlib cuts the aligned 150×150 chip and face_recognition's
ResNet runs on numpy's BLAS (``proctoring.facenet``, the same descriptors as dlib's own
``compute_face_descriptor``, about 6× faster here). ``encoder="dlib"`` runs dlib's own.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from proctoring import facenet
from proctoring.config import DEFAULT, ENCODERS, FaceConfig

ENCODING_SIZE = 128


@cache
def models() -> ModuleType:
    """face_recognition_models, imported once (it still imports pkg_resources)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import face_recognition_models  # local import: heavy, and only in face workers

    return face_recognition_models


@cache
def fr() -> ModuleType:
    """face_recognition, imported once (after its model package, quietly)."""
    models()
    import face_recognition  # local import: heavy (dlib), and only in face workers

    return face_recognition


@cache
def net() -> facenet.FaceNet:
    """face_recognition's identity network, read once from face_recognition_models."""
    return facenet.load(models().face_recognition_model_location())


@dataclass(frozen=True)
class Box:
    """A face box in working-frame pixels."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def css(self) -> tuple[int, int, int, int]:
        return (self.top, self.right, self.bottom, self.left)

    def as_dict(self) -> dict[str, int]:
        return {"top": self.top, "right": self.right, "bottom": self.bottom, "left": self.left}


def detect(
    image: np.ndarray, config: FaceConfig = DEFAULT, *, upsample_fallback: bool = False
) -> list[Box]:
    """Face boxes: HOG on a downscaled copy, then full size, then (optionally) upsampled."""
    height, width = image.shape[:2]
    scale = min(1.0, config.detect_long_side / max(height, width))
    attempts: list[tuple[float, int]] = [(scale, 0)]
    if scale < 1.0:
        attempts.append((1.0, 0))
    if upsample_fallback:
        attempts.append((1.0, 1))
    for factor, upsample in attempts:
        small = (
            image
            if factor == 1.0
            else cv2.resize(
                image, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA
            )
        )
        found = fr().face_locations(small, number_of_times_to_upsample=upsample, model="hog")
        if found:
            return [
                Box(
                    top=max(0, round(t / factor)),
                    right=min(width, round(r / factor)),
                    bottom=min(height, round(b / factor)),
                    left=max(0, round(left / factor)),
                )
                for (t, r, b, left) in found
            ]
    return []


# The 68-point scheme, by feature (the names face_recognition's face_landmarks uses).
FEATURES: dict[str, tuple[int, ...]] = {
    "chin": tuple(range(0, 17)),
    "left_eyebrow": tuple(range(17, 22)),
    "right_eyebrow": tuple(range(22, 27)),
    "nose_bridge": tuple(range(27, 31)),
    "nose_tip": tuple(range(31, 36)),
    "left_eye": tuple(range(36, 42)),
    "right_eye": tuple(range(42, 48)),
    "top_lip": (*range(48, 55), 64, 63, 62, 61, 60),
    "bottom_lip": (*range(54, 60), 48, 60, 67, 66, 65, 64),
}


def shape(image: np.ndarray, box: Box) -> Any:
    """dlib's 68-point landmarks of the face in ``box`` (face_recognition's predictor)."""
    rect = fr().api.dlib.rectangle(box.left, box.top, box.right, box.bottom)
    return fr().api.pose_predictor_68_point(image, rect)


def features(found: Any) -> dict[str, list[tuple[int, int]]]:
    """The landmarks by feature (chin, left_eye, top_lip, ...)."""
    points = [(p.x, p.y) for p in found.parts()]
    return {name: [points[i] for i in indices] for name, indices in FEATURES.items()}


def landmarks(image: np.ndarray, box: Box) -> dict[str, list[tuple[int, int]]]:
    """The 68-point landmarks of one face, by feature."""
    return features(shape(image, box))


def encode(image: np.ndarray, where: Box | Any, *, encoder: str = "numpy") -> np.ndarray:
    """The 128-d embedding of one face, given its box or its landmarks (one pass, no jitter)."""
    found = shape(image, where) if isinstance(where, Box) else where
    if encoder == "dlib":
        descriptor = fr().api.face_encoder.compute_face_descriptor(image, found, 1)
        return np.asarray(descriptor, dtype=np.float64)
    if encoder != "numpy":
        raise ValueError(f"unknown face encoder {encoder!r}: one of {ENCODERS}")
    chip = fr().api.dlib.get_face_chip(
        image, found, size=facenet.CHIP_SIZE, padding=facenet.CHIP_PADDING
    )
    return net().embed(np.asarray(chip)[None])[0]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def to_bytes(encoding: np.ndarray) -> bytes:
    """Storage form: 128 float64 values, 1,024 bytes."""
    return np.asarray(encoding, dtype="<f8").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    if len(data) != ENCODING_SIZE * 8:
        raise ValueError("a face encoding has 1,024 bytes")
    return np.frombuffer(data, dtype="<f8").astype(np.float64)


def warm_up() -> None:
    """Load the models now (a worker's initializer), not on the first frame."""
    blank = np.zeros((64, 64, 3), dtype=np.uint8)
    fr().face_locations(blank, number_of_times_to_upsample=0)
    encode(blank, Box(8, 56, 56, 8))
