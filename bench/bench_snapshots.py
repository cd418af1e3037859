"""Do answer saves stay fast while snapshots stream? Connected candidates keep saving answers
over Socket.IO (each acknowledgement timed, as in ``bench_loop.py``) against a real
``examsvc serve`` (face pool, no Redis) while (1) nothing else happens, (2) every candidate
also sends a ~40 KB snapshot of a real face every ``--every`` seconds on a second connection
(each snapshot's acknowledgement timed too); afterwards, how the snapshots were decided.

    .venv/bin/python bench/bench_snapshots.py [--candidates 20] [--every 1.5] [--seconds 20]

The server runs with ``EXAMSVC_SNAPSHOT_MEAN_SECONDS=6`` so that its rate limit lets a
snapshot through every ~1.2 s per candidate (far more often than an exam asks: 60 s).
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import socketio  # noqa: E402
from PIL import Image  # noqa: E402

from bench.bench_loop import Candidate, add_physicians, phase, quiet  # noqa: E402
from proctoring.pool import percentile  # noqa: E402
from tests.e2e.conftest import cookie_header, launch  # noqa: E402

FACES = Path(os.environ.get("EXAMSVC_FACES_DIR", REPO.parent / "shared" / "faces"))


def frame() -> bytes:
    """A real face as the page sends it: ≤ 640 px, JPEG."""
    image = Image.open(FACES / "face_recognition/obama.jpg").convert("RGB")
    image.thumbnail((640, 640))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


def stream(base: str, who: list[tuple[dict[str, str], int]], every: float, seconds: float) -> dict:
    """Each candidate sends a snapshot every ``every`` seconds for ``seconds`` (another
    connection of the same session, as a page's camera shares its socket)."""
    image = frame()
    waits: list[float] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(headers: dict[str, str], attempt_id: int) -> None:
        client = socketio.Client(reconnection=False)
        client.connect(base, namespaces=["/exam"], headers=headers, transports=["websocket"])
        while time.monotonic() < stop:
            sent = time.monotonic()
            try:
                ack = client.call(
                    "snapshot",
                    {"attempt_id": attempt_id, "image": image, "taken_at": None},
                    namespace="/exam",
                    timeout=30,
                )
                code = "ok" if ack.get("ok") else ack["error"]["code"]
            except socketio.exceptions.SocketIOError:
                code = "no_ack"
            with lock:
                waits.append((time.monotonic() - sent) * 1000)
                statuses[code] += 1
            time.sleep(max(0.0, every - (time.monotonic() - sent)))  # the page's schedule
        client.disconnect()

    threads = [threading.Thread(target=run, args=w) for w in who]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return {
        "snapshots": sum(statuses.values()),
        "bytes_each": len(image),
        "snapshot_acks": dict(statuses),
        "snapshot_p50_ms": round(percentile(waits, 0.5) or 0),
        "snapshot_p99_ms": round(percentile(waits, 0.99) or 0),
    }


def decided(database: str, wait: float = 60) -> dict[str, Any]:
    """The snapshots' statuses once the pool has worked through them (bounded wait)."""
    deadline = time.monotonic() + wait
    while True:
        with sqlite3.connect(database) as conn:
            rows = conn.execute("SELECT status, count(*) FROM snapshots GROUP BY status").fetchall()
        counts = dict(rows)
        if not counts.get("pending") or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)  # polling the server's work, bounded by the deadline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between saves")
    parser.add_argument("--every", type=float, default=1.5, help="seconds between snapshots")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    print("load average before:", *(round(n, 1) for n in os.getloadavg()))
    with (
        tempfile.TemporaryDirectory() as tmp,
        launch(Path(tmp), EXAMSVC_SNAPSHOT_MEAN_SECONDS="6") as server,
    ):
        sitting = add_physicians(server, 100, args.candidates)
        stop = threading.Event()
        candidates = [Candidate(server.url, n, args.pause, stop) for n in sitting]
        for candidate in candidates:
            candidate.start()
        who = [(cookie_header(c.http), c.attempt_id) for c in candidates]
        try:
            phase("warm-up", candidates, quiet, 5)
            results = [
                phase("quiet", candidates, quiet, args.seconds),
                phase(
                    f"snapshots every {args.every} s per candidate",
                    candidates,
                    stream,
                    server.url,
                    who,
                    args.every,
                    args.seconds,
                ),
            ]
        finally:
            stop.set()
            for candidate in candidates:
                candidate.join(timeout=60)
        statuses = decided(server.env["EXAMSVC_DATABASE_URL"].removeprefix("sqlite:///"))
    print(f"{args.candidates} candidates, one save each every {args.pause} s")
    for result in results:
        print(result)
    print("snapshot statuses:", statuses)
    print("load average after:", *(round(n, 1) for n in os.getloadavg()))


if __name__ == "__main__":
    main()
