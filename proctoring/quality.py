"""The camera check: light, exposure, sharpness, face size and position.

Each problem comes with an instruction for the candidate (the manuals: "adjust the
light, no over-exposure, the face must be clear").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from proctoring.config import DEFAULT, FaceConfig
from proctoring.faces import Box

INSTRUCTIONS: dict[str, tuple[str, str]] = {
    "no_face": ("未检测到人脸，请正对摄像头", "No face found: please face the camera"),
    "multiple_faces": (
        "画面中出现多人，请确保只有本人",
        "Several faces: only the candidate may be in view",
    ),
    "dark": ("光线过暗，请面向光源", "Too dark: please face a light source"),
    "overexposed": (
        "光线过强，请避免强光直射镜头",
        "Over-exposed: avoid bright light on the camera",
    ),
    "blurred": (
        "画面模糊，请保持不动并擦拭摄像头",
        "Blurred: hold still and clean the camera lens",
    ),
    "face_too_small": ("请靠近摄像头", "Please move closer to the camera"),
    "off_centre": ("请将面部置于画面中央", "Please centre your face in the picture"),
    "covered_eyes": (
        "请摘下墨镜等遮挡物",
        "Please remove sunglasses or anything covering your eyes",
    ),
    "covered_mouth": ("请勿佩戴口罩或遮挡面部", "Please do not wear a mask or cover your face"),
}


@dataclass
class Issue:
    code: str
    message_zh: str
    message_en: str

    @classmethod
    def of(cls, code: str) -> Issue:
        zh, en = INSTRUCTIONS[code]
        return cls(code, zh, en)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en}


@dataclass
class QualityReport:
    issues: list[Issue] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.issues

    def codes(self) -> list[str]:
        return [issue.code for issue in self.issues]


def _face_patch(grey: np.ndarray, box: Box) -> np.ndarray:
    patch = grey[box.top : box.bottom, box.left : box.right]
    return cv2.resize(patch, (128, 128), interpolation=cv2.INTER_AREA) if patch.size else patch


def camera_check(image: np.ndarray, box: Box | None, config: FaceConfig = DEFAULT) -> QualityReport:
    """Measure light and sharpness on the face (or the whole frame when there is none)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    region = _face_patch(grey, box) if box is not None else grey
    report = QualityReport()
    mean = float(region.mean())
    saturated = float((region >= 250).mean())
    report.measurements.update(brightness=round(mean, 1), saturated_share=round(saturated, 3))
    if mean < config.dark_mean:
        report.issues.append(Issue.of("dark"))
    elif mean > config.bright_mean or saturated > config.saturated_share:
        report.issues.append(Issue.of("overexposed"))
    if box is None:
        return report
    sharpness = float(cv2.Laplacian(region, cv2.CV_64F).var())
    height, width = grey.shape
    size_fraction = box.width / width
    dx = ((box.left + box.right) / 2 - width / 2) / width
    dy = ((box.top + box.bottom) / 2 - height / 2) / height
    report.measurements.update(
        sharpness=round(sharpness, 1),
        face_fraction=round(size_fraction, 3),
        face_px=box.width,
        centre_offset=round(max(abs(dx), abs(dy)), 3),
    )
    if sharpness < config.blur_variance and "dark" not in report.codes():
        report.issues.append(Issue.of("blurred"))
    if size_fraction < config.min_face_fraction or box.width < config.min_face_px:
        report.issues.append(Issue.of("face_too_small"))
    elif max(abs(dx), abs(dy)) > config.off_centre:
        report.issues.append(Issue.of("off_centre"))
    return report


def _region(grey: np.ndarray, points: list[tuple[int, int]], pad: float = 0.25) -> np.ndarray:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    x0, x1 = int(min(xs) - pad * w), int(max(xs) + pad * w) + 1
    y0, y1 = int(min(ys) - pad * max(h, w / 3)), int(max(ys) + pad * max(h, w / 3)) + 1
    return grey[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]


def covered_face(
    image: np.ndarray,
    box: Box,
    marks: dict[str, list[tuple[int, int]]],
    config: FaceConfig = DEFAULT,
) -> QualityReport:
    """Suspect sunglasses (dark eyes) or a mask/hand (a flat mouth and nose) from landmarks."""
    report = QualityReport()
    needed = ("left_eye", "right_eye", "top_lip", "bottom_lip", "nose_tip")
    if not all(marks.get(k) for k in needed):
        return report
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    face = grey[box.top : box.bottom, box.left : box.right]
    eyes = np.concatenate(
        [_region(grey, marks["left_eye"]).ravel(), _region(grey, marks["right_eye"]).ravel()]
    )
    mouth = _region(grey, marks["top_lip"] + marks["bottom_lip"] + marks["nose_tip"], pad=0.15)
    if face.size == 0 or eyes.size == 0 or mouth.size < 16:
        return report
    eye_ratio = float(eyes.mean()) / max(1.0, float(face.mean()))
    eye_texture = float(cv2.Laplacian(_region(grey, marks["left_eye"]), cv2.CV_64F).var())
    mouth_texture = float(cv2.Laplacian(mouth, cv2.CV_64F).var())
    texture_ratio = mouth_texture / max(1.0, eye_texture)
    report.measurements.update(
        eye_darkness=round(eye_ratio, 3), lower_face_texture=round(texture_ratio, 3)
    )
    if eye_ratio < config.eye_darkness_ratio:
        report.issues.append(Issue.of("covered_eyes"))
    if texture_ratio < config.lower_face_texture_ratio:
        report.issues.append(Issue.of("covered_mouth"))
    return report
