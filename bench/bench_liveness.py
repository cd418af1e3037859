"""活体检测 on sequences made from the shared photos: how often a photo held to the camera
passes a challenge (it must never), how often the measured warps that do show the asked-for
change pass (a proxy for real candidates, who are not in the shared sets), and the cost.

- **Held prints** (the attack): every shared image with exactly one face becomes
  ``--sequences`` sequences of 8 frames, each frame shifted, rotated, scaled, re-lit and
  noisy, the last two also leaned back in perspective (``held_print`` of
  tests/proctoring/test_liveness.py); each sequence is judged against all four challenges.
- **Eyes painted shut** (a blink): [open, open, shut, open, open] for every image.
- **Head turns**: a frontal photo then a turned photo of the same person (held-print frames
  of each), judged against the turn the pair shows and the opposite one.
- **Mouth**: Penny's closed then open mouth (face-api/penny).

    .venv/bin/python bench/bench_liveness.py [--faces DIR] [--sequences 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_faces import FACES_DIR  # noqa: E402
from proctoring import frames, liveness  # noqa: E402
from proctoring.config import FaceConfig  # noqa: E402
from tests.proctoring.conftest import jpeg  # noqa: E402
from tests.proctoring.test_liveness import held_print, paint_eyes_shut  # noqa: E402

BIG = FaceConfig(max_bytes=50 * 1024 * 1024)
TURNS = [  # (frontal, turned, the candidate's turn the pair shows)
    ("face_recognition/obama.jpg", "face_recognition/obama2.jpg", "turn_right"),
    ("face_recognition/kit_harington_john1.jpeg", "face_recognition/kit_harington_john2.jpeg", "turn_right"),
]  # fmt: skip
MOUTHS = [("face-api/penny/penny2.png", "face-api/penny/penny1.png")]


def images(root: Path) -> list[tuple[str, np.ndarray]]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
            continue
        try:
            image = frames.decode(path.read_bytes(), BIG)
        except frames.FrameError:
            continue
        if liveness.points_of(image) is not None:
            found.append((str(path.relative_to(root)), image))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", default=FACES_DIR)
    parser.add_argument("--sequences", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    root = Path(args.faces)
    rng = np.random.default_rng(args.seed)
    usable = images(root)
    print(f"{len(usable)} shared images with one face")

    judged = passed = 0
    closest: dict[str, float] = {c: -1e9 for c in liveness.CHALLENGES}
    started = time.perf_counter()
    frames_done = 0
    attacks: list[str] = []
    for name, image in usable:
        for _ in range(args.sequences):
            sequence = [jpeg(held_print(image, rng)) for _ in range(6)]
            sequence += [jpeg(held_print(image, rng, tilt=t)) for t in (0.25, 0.4)]
            series = []
            for data in sequence:
                points = liveness.points_of(frames.decode(data, BIG))
                if points is not None:
                    series.append(liveness.measures(points))
            frames_done += len(sequence)
            for challenge in liveness.CHALLENGES:
                verdict = liveness.judge(challenge, series)
                judged += 1
                passed += verdict.passed
                if verdict.passed:
                    attacks.append(f"{name} {challenge} {verdict.extreme}")
                if verdict.extreme is not None:
                    # how close to passing, as a share of the threshold
                    share = (
                        (1 - verdict.extreme) / (1 - liveness.BLINK_RATIO)
                        if challenge == "blink"
                        else verdict.extreme
                        / (
                            liveness.MOUTH_DELTA
                            if challenge == "open_mouth"
                            else liveness.YAW_DELTA
                        )
                    )
                    closest[challenge] = max(closest[challenge], share)
    seconds = time.perf_counter() - started
    upper = 1 - 0.05 ** (1 / judged) if not passed else float("nan")
    print(
        f"held prints: {passed} of {judged} judgements passed "
        f"({passed / judged:.2%}; 95 % upper bound {upper:.2%})"
    )
    for attack in attacks:
        print("  passed by a print:", attack)
    print(
        "closest calls (share of the way to passing): "
        + ", ".join(f"{c} {v:.2f}" for c, v in closest.items())
    )
    print(f"landmarks: {seconds / frames_done * 1000:.1f} ms a frame (detection + 68 points)")

    blinks = ratios = 0
    shares = []
    for _, image in usable:
        shut = paint_eyes_shut(image)
        points = liveness.points_of(shut)
        if points is None:
            continue
        ratios += 1
        ratio = liveness.measures(points).ear / liveness.measures(liveness.points_of(image)).ear
        shares.append(ratio)
        sequence = [jpeg(image)] * 2 + [jpeg(shut), jpeg(image), jpeg(image)]
        blinks += liveness.check(sequence, "blink", BIG).passed
    print(
        f"eyes painted shut: blink passed {blinks} of {ratios} "
        f"({blinks / ratios:.1%}); EAR shut/open median {np.median(shares):.2f}, "
        f"range {min(shares):.2f}–{max(shares):.2f}"
    )

    for frontal, turned, shown in TURNS:
        a, b = (frames.decode((root / n).read_bytes(), BIG) for n in (frontal, turned))
        sequence = [jpeg(held_print(a, rng)) for _ in range(2)]
        sequence += [jpeg(held_print(b, rng)) for _ in range(3)]
        other = "turn_left" if shown == "turn_right" else "turn_right"
        ok = liveness.check(sequence, shown, BIG)
        wrong = liveness.check(sequence, other, BIG)
        print(
            f"turn {frontal} → {turned}: {shown} passed={ok.passed} (moved {ok.extreme}), "
            f"{other} passed={wrong.passed}"
        )
    for closed, opened in MOUTHS:
        a, b = (frames.decode((root / n).read_bytes(), BIG) for n in (closed, opened))
        verdict = liveness.check([jpeg(a)] * 2 + [jpeg(b)] * 3, "open_mouth", BIG)
        print(f"mouth {closed} → {opened}: passed={verdict.passed} (MAR +{verdict.extreme})")


if __name__ == "__main__":
    main()
