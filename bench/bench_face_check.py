"""CPU per registration photo and per snapshot, and the decisions to compare two versions.

Checks every photo of the shared faces and the roster benchmark's photo variants with
``engine.check_registration_photo``, and a 640×480 JPEG snapshot made from each shared
photo with ``engine.check_snapshot``, on one thread (as a face worker does), and prints
the process CPU time per image. ``--save`` keeps the decisions, boxes and encodings;
``--compare`` checks them against a file saved by another version of the code: the same
decision (accepted, refusal code, snapshot flags), the same box, and the largest
distance between the two versions' encodings of the same image.

    .venv/bin/python bench/bench_face_check.py [--rounds 2] [--save OUT] [--compare BEFORE]
"""

from __future__ import annotations

import argparse
import io
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_faces import FACES_DIR  # noqa: E402
from bench.bench_roster import variants  # noqa: E402
from proctoring import engine  # noqa: E402

Result = tuple[Any, Any, np.ndarray | None, Any]  # decision, detail, encoding, box


def snapshot(path: Path) -> bytes:
    """The photo on a grey 640×480 webcam-sized frame, as the browser sends JPEG."""
    image = Image.open(path).convert("RGB")
    image.thumbnail((640, 480))
    frame = Image.new("RGB", (640, 480), (90, 90, 90))
    frame.paste(image, ((640 - image.width) // 2, (480 - image.height) // 2))
    buffer = io.BytesIO()
    frame.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", default=FACES_DIR)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--save", help="write the decisions and encodings here")
    parser.add_argument("--compare", help="compare with decisions saved by --save")
    args = parser.parse_args()
    shared = sorted(
        p for p in Path(args.faces).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    if not shared:
        sys.exit(f"no face photos at {args.faces}: pass --faces or set EXAMSVC_FACES_DIR")
    photos = [(str(p), p.read_bytes()) for p in [*shared, *variants(240)]]
    snaps = [(str(p), snapshot(p)) for p in shared]
    results: dict[tuple[str, str], Result] = {}
    per_photo: list[float] = []
    per_snap: list[float] = []
    with threadpool_limits(1):
        engine.check_registration_photo(photos[0][1])  # load the models
        for _ in range(args.rounds):
            started = time.process_time()
            for name, data in photos:
                check = engine.check_registration_photo(data)
                results["photo", name] = (check.ok, check.reason_code, check.encoding, check.box)
            per_photo.append((time.process_time() - started) / len(photos) * 1000)
            started = time.process_time()
            for name, data in snaps:
                decision = engine.check_snapshot(data, [])
                analysis = decision.analysis
                results["snapshot", name] = (
                    analysis.face_count,
                    tuple(decision.flags),
                    analysis.encoding,
                    analysis.box,
                )
            per_snap.append((time.process_time() - started) / len(snaps) * 1000)
    print(
        f"{len(photos)} registration photos: CPU ms per photo "
        f"{', '.join(f'{ms:.2f}' for ms in per_photo)}; {len(snaps)} snapshots: "
        f"CPU ms per snapshot {', '.join(f'{ms:.2f}' for ms in per_snap)}"
    )
    if args.save:
        Path(args.save).write_bytes(pickle.dumps(results))
    if args.compare:
        before: dict[tuple[str, str], Result] = pickle.loads(Path(args.compare).read_bytes())
        decisions = boxes = compared = 0
        largest = 0.0
        for key, (decision, detail, encoding, box) in results.items():
            old_decision, old_detail, old_encoding, old_box = before[key]
            if (decision, detail) != (old_decision, old_detail):
                decisions += 1
                print(f"decision differs: {key}: {old_decision, old_detail} -> {decision, detail}")
            boxes += box != old_box
            if encoding is not None and old_encoding is not None:
                compared += 1
                largest = max(largest, float(np.linalg.norm(encoding - old_encoding)))
            elif (encoding is None) != (old_encoding is None):
                print(f"encoded in one version only: {key}")
        print(
            f"against {args.compare}: {len(results)} images, {decisions} decisions differ, "
            f"{boxes} boxes differ, {compared} encodings compared, largest distance {largest:.2e}"
        )


if __name__ == "__main__":
    main()
