"""Calibrate the verification thresholds on ../shared/faces/pairs.csv.

Encodes every image once with the engine's own pipeline (downscaled HOG, one encoding),
computes the distance of every labelled pair, and prints the false-accept and
false-reject rates over a range of thresholds, by source and overall.

    .venv/bin/python bench/calibrate_faces.py [--faces DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_faces import FACES_DIR  # noqa: E402
from proctoring import engine, faces  # noqa: E402
from proctoring.config import FaceConfig  # noqa: E402
from proctoring.frames import FrameError, decode  # noqa: E402

THRESHOLDS = [round(0.30 + 0.025 * i, 3) for i in range(17)]  # 0.30 … 0.70


def encode_all(root: Path, names: set[str]) -> tuple[dict[str, object], dict[str, str]]:
    config = FaceConfig(max_bytes=20 * 1024 * 1024, min_face_fraction=0.0, min_face_px=40)
    encodings: dict[str, object] = {}
    problems: dict[str, str] = {}
    for name in sorted(names):
        try:
            image = decode((root / name).read_bytes(), config)
        except FrameError as exc:
            problems[name] = exc.code
            continue
        analysis = engine.analyse(image, config, upsample_fallback=True)
        if analysis.face_count != 1:
            problems[name] = "no_face" if analysis.face_count == 0 else "multiple_faces"
        elif analysis.encoding is None:
            # Unusable light or size for a live check; still encode for calibration.
            assert analysis.box is not None
            encodings[name] = faces.encode(image, analysis.box)
        else:
            encodings[name] = analysis.encoding
    return encodings, problems


def rates(rows: list[tuple[float, bool]], threshold: float) -> tuple[float, float]:
    same = [d for d, s in rows if s]
    diff = [d for d, s in rows if not s]
    far = sum(d <= threshold for d in diff) / len(diff) if diff else 0.0
    frr = sum(d > threshold for d in same) / len(same) if same else 0.0
    return far, frr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", default=FACES_DIR)
    parser.add_argument("--json", help="write the distances and rates here")
    args = parser.parse_args()
    root = Path(args.faces)
    pairs = list(csv.DictReader((root / "pairs.csv").open()))
    names = {p["image_a"] for p in pairs} | {p["image_b"] for p in pairs}
    started = time.perf_counter()
    encodings, problems = encode_all(root, names)
    print(
        f"{len(names)} images encoded in {time.perf_counter() - started:.1f} s; unusable: {len(problems)}"
    )
    for name, code in sorted(problems.items()):
        print(f"  unusable {name}: {code}")
    rows: dict[str, list[tuple[float, bool]]] = {"all": []}
    skipped = 0
    for pair in pairs:
        a, b = encodings.get(pair["image_a"]), encodings.get(pair["image_b"])
        if a is None or b is None:
            skipped += 1
            continue
        row = (faces.distance(a, b), pair["same_person"] == "1")  # type: ignore[arg-type]
        rows["all"].append(row)
        rows.setdefault(pair["source"], []).append(row)
    used = len(rows["all"])
    same = sum(s for _, s in rows["all"])
    print(f"pairs used: {used} ({same} same, {used - same} different); skipped: {skipped}")
    print(f"{'threshold':>9} " + " ".join(f"{src:>22}" for src in rows))
    table = []
    for t in THRESHOLDS:
        cells = []
        for data in rows.values():
            far, frr = rates(data, t)
            cells.append(f"FAR {far:6.2%} FRR {frr:6.2%}")
        print(f"{t:9.3f} " + " ".join(f"{c:>22}" for c in cells))
        far, frr = rates(rows["all"], t)
        table.append({"threshold": t, "far": far, "frr": frr})
    if args.json:
        Path(args.json).write_text(
            json.dumps({"table": table, "problems": problems, "skipped": skipped}, indent=1)
        )


if __name__ == "__main__":
    main()
