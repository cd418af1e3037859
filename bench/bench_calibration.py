"""Rates per band (accept / review / reject) on the shared pairs, at the defaults and at
thresholds calibrated for the default target rates; and how long a calibration of a
100,000-physician roster takes.

Calibration pairs: every pair of images of two *different* people of the shared sets
(people found by joining same-person pairs and the named identities) that is not one of
the labelled pairs of ``pairs.csv``; those labelled pairs are then the held-out test.

    .venv/bin/python bench/bench_calibration.py [--faces DIR] [--roster 100000]
"""

from __future__ import annotations

import argparse
import csv
import pickle
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_faces import FACES_DIR  # noqa: E402
from bench.calibrate_faces import encode_all  # noqa: E402
from proctoring import calibration  # noqa: E402
from proctoring.config import FaceConfig  # noqa: E402


def rows(root: Path, name: str) -> list[dict[str, str]]:
    with (root / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def identities(root: Path) -> dict[str, str]:
    """image -> a person key (same-person pairs and identities.csv joined)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for row in rows(root, "pairs.csv"):
        find(row["image_a"])
        find(row["image_b"])
        if row["same_person"] == "1":
            parent[find(row["image_a"])] = find(row["image_b"])
    first: dict[str, str] = {}
    for row in rows(root, "identities.csv"):
        parent[find(row["image"])] = find(first.setdefault(row["identity"], row["image"]))
    return {name: find(name) for name in list(parent)}


def bands(distances: np.ndarray, accept: float, reject: float) -> tuple[float, float, float]:
    return (
        float((distances <= accept).mean()),
        float(((distances > accept) & (distances <= reject)).mean()),
        float((distances > reject).mean()),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", default=FACES_DIR)
    parser.add_argument("--roster", type=int, default=100_000)
    parser.add_argument("--strict-far", type=float, default=0.001)
    parser.add_argument("--loose-far", type=float, default=0.05)
    parser.add_argument("--cache", default="/tmp/examsvc-bench-calibration.pickle")
    args = parser.parse_args()
    root = Path(args.faces)
    labelled = rows(root, "pairs.csv")
    person = identities(root)
    names = sorted(person)
    cache = Path(args.cache)
    if cache.exists():
        encodings = pickle.loads(cache.read_bytes())
    else:
        encodings, _ = encode_all(root, set(names))
        cache.write_bytes(pickle.dumps(encodings))
    names = [n for n in names if n in encodings]
    held_out = {frozenset((r["image_a"], r["image_b"])) for r in labelled}
    matrix = np.array([encodings[n] for n in names])
    i, j = calibration.sample_pairs(len(names), max_pairs=10**9)
    keep = np.array(
        [
            person[names[a]] != person[names[b]] and frozenset((names[a], names[b])) not in held_out
            for a, b in zip(i.tolist(), j.tolist(), strict=True)
        ]
    )
    impostor = calibration.pair_distances(matrix, i[keep], j[keep])
    print(
        f"{len(names)} images of {len(set(person.values()))} people; "
        f"{impostor.size} calibration impostor pairs (labelled pairs held out)"
    )
    strict = calibration.threshold_for_far(impostor, args.strict_far)
    loose = calibration.threshold_for_far(impostor, args.loose_far)
    test_rows = [
        (float(np.linalg.norm(encodings[r["image_a"]] - encodings[r["image_b"]])), r["same_person"])
        for r in labelled
        if r["image_a"] in encodings and r["image_b"] in encodings
    ]
    genuine = np.array([d for d, s in test_rows if s == "1"])
    other = np.array([d for d, s in test_rows if s == "0"])
    defaults = FaceConfig()
    print(
        f"held out: {genuine.size} same-person, {other.size} different-person labelled pairs "
        "(one photo against one photo)"
    )
    print(f"{'thresholds':34} {'who':10} {'accept':>8} {'review':>8} {'reject':>8}")
    for label, accept, reject in (
        (f"defaults {defaults.entry_accept} / {defaults.entry_reject}", defaults.entry_accept,
         defaults.entry_reject),
        (f"calibrated {strict.distance} / {loose.distance}", strict.distance, loose.distance),
    ):  # fmt: skip
        for who, data in (("genuine", genuine), ("impostor", other)):
            a, r, x = bands(data, accept, reject)
            print(f"{label:34} {who:10} {a:8.2%} {r:8.2%} {x:8.2%}")
    for name, t in (("strict", strict), ("loose", loose)):
        print(
            f"  {name}: target {t.target_far:g}, {t.accepts}/{t.pairs} accepted "
            f"(observed {t.observed_far:.4%}, 95 % upper bound {t.far_upper:.4%}); "
            f"plain quantile {t.quantile}"
        )

    rng = np.random.default_rng(1)
    roster = rng.normal(0, 0.06, (args.roster, 128))
    started = time.perf_counter()
    result = calibration.calibrate(
        roster, strict_far=args.strict_far, loose_far=args.loose_far, rng=rng
    )
    seconds = time.perf_counter() - started
    print(
        f"\ncalibration of a {args.roster:,}-physician roster (synthetic encodings): "
        f"{result.pairs:,} pairs sampled, {seconds:.2f} s "
        f"(entry {result.entry_accept.distance} / {result.entry_reject.distance})"
    )
    blobs = [row.tobytes() for row in roster]
    started = time.perf_counter()
    np.frombuffer(b"".join(blobs), dtype=np.float64).reshape(len(blobs), 128)
    print(
        f"  joining {len(blobs):,} stored encodings into a matrix: {time.perf_counter() - started:.2f} s"
    )


if __name__ == "__main__":
    main()
