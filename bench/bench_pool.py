"""The face pool end to end: JPEG snapshots in, decisions out, worker processes on all cores.

Measures what the service can verify per second on this machine, including JPEG decoding,
the camera check, the continuity comparison and the trip to and from the worker
processes — the number to hold against the snapshot rate of a full exam room. Snapshots
are 640×480 JPEGs made from the shared photos (one face each, several people), checked
against the same person's enrolled encoding; every candidate has one snapshot in the
pool at a time, as with a real exam page. First a burst (everything queued at once: the
throughput), then a steady load at 50 % and 80 % of that throughput for a few seconds
each (the latency a candidate's snapshot sees).

    .venv/bin/python bench/bench_pool.py [--faces DIR] [--snapshots 400] [--workers 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_faces import (  # noqa: E402
    FACES_DIR,
    PEOPLE,
    jpeg,
    load,
    percentile,
    webcam_frame,
)
from proctoring import faces  # noqa: E402
from proctoring.pool import FacePool  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", default=FACES_DIR)
    parser.add_argument("--snapshots", type=int, default=400)
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    parser.add_argument("--seconds", type=float, default=8, help="length of each steady phase")
    args = parser.parse_args()
    root = Path(args.faces)
    frames = []
    for photo, _ in PEOPLE:
        image = webcam_frame(load(root, photo))
        found = faces.detect(image)
        frames.append((jpeg(image), faces.to_bytes(faces.encode(image, found[0]))))

    pool = FacePool(args.workers).start()
    try:
        pool.run("count", {"image": frames[0][0]}, timeout=120)  # the workers are warm
        started = time.perf_counter()
        burst = [submit(pool, frames, i) for i in range(args.snapshots)]
        flagged = sum("mismatch" in f.result(timeout=600)["flags"] for _, f in burst)
        rate = args.snapshots / (time.perf_counter() - started)
        print(f"{args.snapshots} snapshots at once on {pool.workers} worker processes")
        print(f"throughput: {rate:.1f} verified snapshots/s ({rate / pool.workers:.1f} per worker)")
        print(f"wrongly flagged as someone else: {flagged}")
        for share in (0.5, 0.8):
            waits = steady(pool, frames, rate * share, seconds=args.seconds)
            print(
                f"steady {rate * share:.0f}/s ({share:.0%} of throughput): latency "
                f"p50 {percentile(waits, 0.5):.0f} ms, p95 {percentile(waits, 0.95):.0f} ms, "
                f"max {max(waits):.0f} ms over {len(waits)} snapshots"
            )
    finally:
        pool.stop()
    for seconds in (30, 60):
        print(f"candidates served at one snapshot per {seconds} s each: {int(rate * seconds):,}")


def submit(pool: FacePool, frames: list, i: int):
    image, enrolled = frames[i % len(frames)]
    future = pool.submit("snapshot", {"image": image, "enrolled": [enrolled]}, candidate=f"c{i}")
    return time.perf_counter(), future


def steady(pool: FacePool, frames: list, per_second: float, *, seconds: float) -> list[float]:
    """Submit at an even pace; the milliseconds from submit to decision of each snapshot."""
    count = int(per_second * seconds)
    done: list[float] = []
    pending = []
    start = time.perf_counter()
    for i in range(count):
        time.sleep(max(0.0, start + i / per_second - time.perf_counter()))  # pacing the load
        submitted, future = submit(pool, frames, i)
        future.add_done_callback(lambda _f, t=submitted: done.append(time.perf_counter() - t))
        pending.append(future)
    for future in pending:
        future.result(timeout=600)
    return [d * 1000 for d in done]


if __name__ == "__main__":
    main()
