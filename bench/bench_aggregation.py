"""Several entry frames, one decision: which aggregate of the frames' distances errs least.

Every image of ``../shared/faces/pairs.csv`` becomes a *live sequence* of frames made
from it — random crop and shift, scale (the face farther away), brightness and contrast
(light), a little rotation, sensor noise, sometimes blur, JPEG at webcam quality — and
each frame goes through the engine's own pipeline (``engine.analyse``; its quality
measurements give the ``quality`` weights). For every labelled pair (a, b) the frames
of a are compared with b's registration encoding and the other way round: same-person
pairs are genuine sequences, different-person pairs impostor sequences. Each aggregate
(``proctoring.engine.aggregate``) gives one distance per sequence; the script prints
FAR/FRR per method at the strict and the loose entry threshold, with 3 and with 5 frames,
the FRR each method gives at a threshold set for a fixed FAR (0: below the closest
impostor; 1 %), the equal-error rate and d′ (threshold-free comparisons); and, because a calibration
measures single photo-against-photo impostor distances, the FAR each method really gives
at the thresholds where one frame's FAR is 1 % and 5 % (t1, t5): an aggregate that pulls
impostors closer than one frame does would break the calibrated rate.

Encodings are cached (``--cache``), so only the first run encodes (about a minute).

    .venv/bin/python bench/bench_aggregation.py [--faces DIR] [--frames 5] [--seed 1]
"""

from __future__ import annotations

import argparse
import csv
import io
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_faces import FACES_DIR  # noqa: E402
from bench.calibrate_faces import encode_all  # noqa: E402
from proctoring import engine  # noqa: E402
from proctoring.config import AGGREGATES, FaceConfig  # noqa: E402
from proctoring.frames import FrameError, decode  # noqa: E402

LIVE = FaceConfig(max_bytes=20 * 1024 * 1024, min_face_fraction=0.0, min_face_px=40)


def live_frame(image: np.ndarray, rng: np.random.Generator) -> bytes:
    """One webcam-like frame of a photo: crop/shift, scale, light, rotation, noise, blur."""
    h, w = image.shape[:2]
    crop = rng.uniform(0.85, 1.0)
    ch, cw = int(h * crop), int(w * crop)
    y0 = int(rng.integers(0, h - ch + 1))
    x0 = int(rng.integers(0, w - cw + 1))
    frame = image[y0 : y0 + ch, x0 : x0 + cw]
    angle = rng.uniform(-6, 6)
    matrix = cv2.getRotationMatrix2D((cw / 2, ch / 2), angle, 1.0)
    frame = cv2.warpAffine(frame, matrix, (cw, ch), borderMode=cv2.BORDER_REFLECT)
    scale = rng.uniform(0.6, 1.0)
    frame = cv2.resize(frame, (max(1, int(cw * scale)), max(1, int(ch * scale))))
    gain, offset = rng.uniform(0.65, 1.3), rng.uniform(-25, 25)
    out = frame.astype(np.float32) * gain + offset
    out += rng.normal(0, rng.uniform(1, 6), out.shape)
    frame = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.8, 2.0))
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, "JPEG", quality=int(rng.integers(60, 90)))
    return buffer.getvalue()


def encode_sequences(
    root: Path, names: list[str], count: int, seed: int
) -> dict[str, list[tuple[np.ndarray, float]]]:
    """name -> [(encoding, quality weight)] of its usable synthetic frames."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple[np.ndarray, float]]] = {}
    for name in names:
        try:
            image = decode((root / name).read_bytes(), LIVE)
        except FrameError:
            continue
        frames = []
        for _ in range(count):
            analysis = engine.analyse(decode(live_frame(image, rng), LIVE), LIVE)
            if analysis.face_count == 1 and analysis.encoding is None and analysis.box:
                # small or dim: the live check would ask to retry; skip the frame
                continue
            if analysis.encoding is not None:
                frames.append((analysis.encoding, engine.frame_weight(analysis.measurements)))
        out[name] = frames
    return out


def rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> tuple[float, float]:
    far = float((impostor <= threshold).mean()) if impostor.size else 0.0
    frr = float((genuine > threshold).mean()) if genuine.size else 0.0
    return far, frr


def frr_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float]:
    """The threshold that keeps the empirical FAR ≤ far, and the FRR there."""
    ordered = np.sort(impostor)
    allowed = int(np.floor(far * ordered.size))
    threshold = float(ordered[allowed]) - 1e-9 if allowed < ordered.size else float("inf")
    return threshold, float((genuine > threshold).mean())


def separation(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """d′: the gap between the two distance distributions in pooled standard deviations
    (threshold-free: the larger, the better a method tells people apart)."""
    pooled = np.sqrt((genuine.var() + impostor.var()) / 2)
    return float((impostor.mean() - genuine.mean()) / pooled)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", default=FACES_DIR)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", default="/tmp/examsvc-bench-aggregation.pickle")
    args = parser.parse_args()
    root = Path(args.faces)
    pairs = list(csv.DictReader((root / "pairs.csv").open()))
    names = sorted({p["image_a"] for p in pairs} | {p["image_b"] for p in pairs})
    cache = Path(args.cache)
    key = (str(root), args.frames, args.seed, len(names))
    data: dict[str, Any] | None = None
    if cache.exists():
        data = pickle.loads(cache.read_bytes())
        if data.get("key") != key:
            data = None
    started = time.perf_counter()
    if data is None:
        references, _ = encode_all(root, set(names))
        sequences = encode_sequences(root, names, args.frames, args.seed)
        data = {"key": key, "references": references, "sequences": sequences}
        cache.write_bytes(pickle.dumps(data))
        print(
            f"encoded {len(names)} photos and their frames in {time.perf_counter() - started:.0f} s"
        )
    references, sequences = data["references"], data["sequences"]
    frame_count = sum(len(v) for v in sequences.values())
    print(
        f"{len(names)} photos, {frame_count} usable synthetic frames ({args.frames} made per photo)"
    )
    config = FaceConfig()
    strict, loose = config.entry_accept, config.entry_reject
    methods = ["single", *AGGREGATES]
    for n in (3, args.frames):
        scores: dict[str, dict[bool, list[float]]] = {m: {True: [], False: []} for m in methods}
        for pair in pairs:
            same = pair["same_person"] == "1"
            for live, ref in (
                (pair["image_a"], pair["image_b"]),
                (pair["image_b"], pair["image_a"]),
            ):
                frames = sequences.get(live, [])[:n]
                reference = references.get(ref)
                if reference is None or len(frames) < min(3, n):
                    continue
                encodings = [e for e, _ in frames]
                weights = [w for _, w in frames]
                scores["single"][same].append(float(np.linalg.norm(encodings[0] - reference)))
                for method in AGGREGATES:
                    scores[method][same].append(
                        engine.aggregate(encodings, reference, method, weights)
                    )
        genuine_n = len(scores["median"][True])
        impostor_n = len(scores["median"][False])
        print(
            f"\n{n} frames per sequence: {genuine_n} genuine, {impostor_n} impostor sequences; "
            f"strict {strict}, loose {loose}"
        )
        print(
            f"{'method':10} {'FAR≤strict':>11} {'FAR≤loose':>10} {'FRR>strict':>11} "
            f"{'FRR>loose':>10} {'FRR@FAR0':>9} {'FRR@FAR1%':>10} {'EER':>6} {'d′':>5} "
            f"{'FAR@t1':>7} {'FAR@t5':>7}"
        )
        # A calibration measures single photo-against-photo impostor distances: the FAR a
        # method really gives at thresholds set there for 1 % and 5 % (t1, t5).
        single = np.sort(np.array(scores["single"][False]))
        t1, t5 = (float(single[int(single.size * q)]) - 1e-9 for q in (0.01, 0.05))
        for method in methods:
            genuine = np.array(scores[method][True])
            impostor = np.array(scores[method][False])
            far_s, frr_s = rates(genuine, impostor, strict)
            far_l, frr_l = rates(genuine, impostor, loose)
            _, frr_zero = frr_at_far(genuine, impostor, 0.0)
            _, frr_one = frr_at_far(genuine, impostor, 0.01)
            grid = np.linspace(0.2, 0.9, 701)
            gaps = [abs(np.subtract(*rates(genuine, impostor, t))) for t in grid]
            eer = float(np.mean(rates(genuine, impostor, float(grid[int(np.argmin(gaps))]))))
            print(
                f"{method:10} {far_s:11.2%} {far_l:10.2%} {frr_s:11.2%} {frr_l:10.2%} "
                f"{frr_zero:9.2%} {frr_one:10.2%} {eer:6.2%} {separation(genuine, impostor):5.2f} "
                f"{rates(genuine, impostor, t1)[0]:7.2%} {rates(genuine, impostor, t5)[0]:7.2%}"
            )
    print(f"\ntotal {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
