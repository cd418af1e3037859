"""Naive vs the engine, on the same 640x480 frames, in one run.

Frames are made from the shared photos: one face (placed at a webcam-like size), no
face, and several faces. *Naive* is ``face_recognition.face_encodings(frame)`` (HOG with
one upsample, then encode every face) and a comparison with the reference; *ours* is
``proctoring.engine`` (downscaled HOG without upsampling, camera check, landmarks once,
one encoding only for a usable face, face_recognition's ResNet on numpy's BLAS);
*ours-dlib* is the same pipeline with dlib's own encoder (``encoder="dlib"``), to show
what each step gains; *count* is ``engine.count_faces``. Everything runs on one thread
(one BLAS thread, as in a face worker process).

    .venv/bin/python bench/bench_faces.py [--faces DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
FACES_DIR = os.environ.get("EXAMSVC_FACES_DIR", str(REPO.parent / "shared" / "faces"))
sys.path.insert(0, str(REPO))

from proctoring import engine, faces  # noqa: E402
from proctoring.config import DEFAULT, FaceConfig  # noqa: E402

# (frame photo, another photo of the same person): distinct people.
PEOPLE = [
    ("face_recognition/biden.jpg", "face_recognition/biden_biden2.jpg"),
    ("face_recognition/obama.jpg", "face_recognition/obama2.jpg"),
    ("face_recognition/kit_harington_john1.jpeg", "face_recognition/kit_harington_john2.jpeg"),
    ("face_recognition/rose_leslie_img1.jpg", "face_recognition/rose_leslie_img2.jpg"),
    ("face_recognition/alex_lacamoire_img1.jpg", "face_recognition/test_alex_lacamoire1.jpg"),
    ("deepface/img38.jpg", "deepface/img39.jpg"),
    ("deepface/img1.jpg", "deepface/img2.jpg"),
]
VERIFIED = ("match", "mismatch")
SEVERAL = ["face_recognition/two_people.jpg", "deepface/couple.jpg"]


def frame(image: Image.Image, face_share: float = 0.55) -> np.ndarray:
    """The photo scaled so that it fills ``face_share`` of a 640x480 grey canvas."""
    canvas = Image.new("RGB", (640, 480), (120, 125, 130))
    photo = image.convert("RGB")
    photo.thumbnail((int(640 * face_share), 480))
    canvas.paste(photo, ((640 - photo.width) // 2, (480 - photo.height) // 2))
    return np.asarray(canvas)


def webcam_frame(image: Image.Image, face_px: int = 180) -> np.ndarray:
    """A 640x480 frame with the photo's face about ``face_px`` wide and centred, as a webcam sees it."""
    photo = np.asarray(image.convert("RGB"))
    box = faces.detect(photo, FaceConfig(detect_long_side=10_000), upsample_fallback=True)[0]
    scale = face_px / box.width
    resized = image.convert("RGB").resize(
        (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
    )
    cx, cy = (box.left + box.right) / 2 * scale, (box.top + box.bottom) / 2 * scale
    canvas = Image.new("RGB", (640, 480), (120, 125, 130))
    canvas.paste(resized, (round(320 - cx), round(240 - cy)))
    return np.asarray(canvas)


def empty_frame(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(60, 200, 640, dtype=np.float32)[None, :, None]
    noise = rng.normal(0, 12, (480, 640, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def load(root: Path, name: str) -> Image.Image:
    return Image.open(root / name)


def naive(image: np.ndarray, reference: np.ndarray, threshold: float) -> str:
    encodings = faces.fr().face_encodings(image)
    if len(encodings) != 1:
        return "none" if not encodings else "several"
    return (
        "match" if faces.distance(np.asarray(encodings[0]), reference) <= threshold else "mismatch"
    )


def ours(
    image: np.ndarray, enrolled: np.ndarray, threshold: float, config: FaceConfig = DEFAULT
) -> str:
    analysis = engine.analyse(image, config)
    if analysis.face_count != 1:
        return "none" if analysis.face_count == 0 else "several"
    if analysis.encoding is None:
        return "unusable"
    return "match" if faces.distance(analysis.encoding, enrolled) <= threshold else "mismatch"


def jpeg(image: np.ndarray) -> bytes:
    """A frame as the browser sends it."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def count_only(image: np.ndarray) -> str:
    n = engine.count_faces(jpeg(image)).count
    return "none" if n == 0 else ("several" if n > 1 else "one")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", default=FACES_DIR)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(args.faces)
    config = FaceConfig()
    # Each one-face frame is checked against the encoding of another photo of the same
    # person (as the enrolled reference) and against another person's.
    cases: list[tuple[np.ndarray, np.ndarray, str]] = []
    refs = []
    for _, other_photo in PEOPLE:
        image = np.asarray(load(root, other_photo).convert("RGB"))
        box = faces.detect(image, FaceConfig(detect_long_side=10_000), upsample_fallback=True)[0]
        refs.append(faces.encode(image, box))
    for i, (photo, _) in enumerate(PEOPLE):
        image = webcam_frame(load(root, photo))
        cases.append((image, refs[i], "match"))
        cases.append((image, refs[(i + 1) % len(PEOPLE)], "mismatch"))
    for name in SEVERAL:
        cases.append((frame(load(root, name), 0.95), refs[0], "several"))
    for seed in range(4):
        cases.append((empty_frame(seed), refs[0], "none"))

    faces.warm_up()
    with_dlib = FaceConfig(encoder="dlib")
    pipelines = ("naive", "ours-dlib", "ours", "count")
    timings: dict[str, list[float]] = {name: [] for name in pipelines}
    correct = dict.fromkeys(pipelines, 0)
    by_label: dict[tuple[str, str], list[int]] = {}
    total = 0
    for _ in range(args.rounds):
        for image, reference, label in cases:
            total += 1
            for name in pipelines:
                started = time.perf_counter()
                if name == "naive":
                    verdict = naive(image, reference, config.entry_reject)
                elif name == "ours-dlib":
                    verdict = ours(image, reference, config.entry_reject, with_dlib)
                elif name == "ours":
                    verdict = ours(image, reference, config.entry_reject)
                else:
                    verdict = count_only(image)
                timings[name].append((time.perf_counter() - started) * 1000)
                expected = (
                    label
                    if name != "count"
                    else ("one" if label in ("match", "mismatch") else label)
                )
                correct[name] += verdict == expected
                by_label.setdefault((name, label), []).append(int(verdict == expected))
    print(f"{len(cases)} frames x {args.rounds} rounds; one core; threshold {config.entry_reject}")
    print(f"{'pipeline':10} {'median ms':>10} {'p95 ms':>8} {'frames/s':>9} {'accuracy':>9}")
    for name, values in timings.items():
        med = statistics.median(values)
        print(
            f"{name:10} {med:10.1f} {percentile(values, 0.95):8.1f} {1000 / statistics.mean(values):9.1f} "
            f"{correct[name] / total:9.1%}"
        )
    for (name, label), hits in sorted(by_label.items()):
        print(f"  {name:6} {label:9} {sum(hits)}/{len(hits)} right")

    def one_face(name: str) -> list[float]:
        labels = [label for _, _, label in cases] * args.rounds
        return [t for t, label in zip(timings[name], labels, strict=True) if label in VERIFIED]

    base = statistics.median(one_face("naive"))
    for name in ("ours-dlib", "ours"):
        med = statistics.median(one_face(name))
        print(
            f"verified (one-face) frames: naive {base:.1f} ms, {name} {med:.1f} ms "
            f"(p95 {percentile(one_face(name), 0.95):.1f}), speed-up {base / med:.2f}x"
        )
    print(
        f"all frames: speed-up {statistics.mean(timings['naive']) / statistics.mean(timings['ours']):.2f}x (mean)"
    )
    gaps = []
    for image, _, label in cases:
        analysis = engine.analyse(image, DEFAULT, encode=False)
        if label in VERIFIED and analysis.box is not None:
            found = faces.shape(image, analysis.box)
            ours_ = faces.encode(image, found)
            gaps.append(faces.distance(ours_, faces.encode(image, found, encoder="dlib")))
    print(f"numpy vs dlib descriptors of the same faces: largest distance {max(gaps):.1e}")
    by_face_size(root, refs, config)


def by_face_size(root: Path, refs: list[np.ndarray], config: FaceConfig) -> None:
    """Verified frames with smaller and larger faces: a candidate sitting further back falls
    through the 320 px detection pass to the full-size one."""
    print("verified frames by face width (px in the 640x480 frame):")
    for face_px in (90, 120, 180, 240):
        frames = [webcam_frame(load(root, photo), face_px) for photo, _ in PEOPLE]
        timings: dict[str, list[float]] = {"naive": [], "ours": []}
        right = 0
        for image, reference in zip(frames, refs, strict=True):
            for name, pipeline in (("naive", naive), ("ours", ours)):
                started = time.perf_counter()
                verdict = pipeline(image, reference, config.entry_reject)
                timings[name].append((time.perf_counter() - started) * 1000)
                right += verdict == "match"
        naive_ms, ours_ms = (statistics.median(timings[n]) for n in ("naive", "ours"))
        print(
            f"  {face_px:3d} px: naive {naive_ms:5.1f} ms, ours {ours_ms:5.1f} ms, "
            f"speed-up {naive_ms / ours_ms:.1f}x, matched {right}/{2 * len(frames)}"
        )


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        main()
