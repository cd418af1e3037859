"""How fast the retention purge deletes face images: 200,000 snapshots and their files.

    .venv/bin/python bench/bench_purge.py [--snapshots 200000] [--batch 1000] [--database-url URL]

Builds, in a temporary DATA_DIR and a fresh SQLite file (or the PostgreSQL database given),
attempts handed in at one moment with 20 snapshot rows each and a small file per snapshot
(DATA_DIR/snapshots/<attempt_id>/<snapshot_id>.jpg), plus one entry check with two frames
per attempt. One attempt in four is flagged (one snapshot ``mismatch``). Then times
``examsvc.camera.retention.purge``: a dry run, the clean attempts' images 31 days later
(three quarters), a second run that finds nothing (idempotence), the flagged evidence 181
days later.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PER_ATTEMPT = 20
JPEG = b"\xff\xd8" + b"\x00" * 1200 + b"\xff\xd9"  # about the size of a tiny thumbnail


def build(data_dir: Path, snapshots: int, t0: datetime) -> tuple[int, int]:
    import sqlalchemy as sa

    from examsvc.attempts.models import Attempt
    from examsvc.camera.models import EntryCheck, EntryOutcome, Snapshot, SnapshotStatus
    from examsvc.enums import AttemptStatus
    from examsvc.extensions import db
    from tests.factories import create_cycle, create_physician, create_user
    from tests.factories_exam import paper_window

    window = paper_window(t0 - timedelta(hours=3))
    cycle = create_cycle("BENCH")
    user = create_user(password="Bench-Pass1")
    attempts = max(1, snapshots // PER_ATTEMPT)
    per_physician = 20
    physicians = [
        create_physician(cycle, user=user).id
        for _ in range((attempts + per_physician - 1) // per_physician)
    ]
    started = t0 - timedelta(hours=1)
    rows = [
        {
            "physician_id": physicians[i // per_physician],
            "paper_id": window.paper_id,
            "window_id": window.id,
            "number": 1 + i % per_physician,
            "status": AttemptStatus.SUBMITTED,
            "open_slot": None,
            "seed": i,
            "started_at": started,
            "deadline_at": started + timedelta(hours=1),
            "submitted_at": t0,
            "total_points": 100,
            "earned_points": 90,
            "score": 90,
            "passed": True,
            "last_seq": 0,
        }
        for i in range(attempts)
    ]
    db.session.execute(sa.insert(Attempt), rows)
    ids = list(db.session.scalars(sa.select(Attempt.id).order_by(Attempt.id)))
    snapshot_id = 0
    batch: list[dict[str, object]] = []
    checks: list[dict[str, object]] = []
    for n, attempt_id in enumerate(ids):
        folder = data_dir / "snapshots" / str(attempt_id)
        folder.mkdir(parents=True)
        for k in range(PER_ATTEMPT):
            snapshot_id += 1
            relative = f"snapshots/{attempt_id}/{snapshot_id}.jpg"
            (data_dir / relative).write_bytes(JPEG)
            flagged = n % 4 == 0 and k == 7
            batch.append(
                {
                    "id": snapshot_id,
                    "attempt_id": attempt_id,
                    "received_at": started + timedelta(seconds=k * 150),
                    "path": relative,
                    "size": len(JPEG),
                    "status": SnapshotStatus.MISMATCH if flagged else SnapshotStatus.OK,
                    "flags": ["mismatch"] if flagged else [],
                    "distance": 0.3,
                    "measurements": {"brightness": 120},
                }
            )
        entry = data_dir / "entry" / str(attempt_id)
        entry.mkdir(parents=True)
        frames = []
        for k in range(2):
            (entry / f"{k}.jpg").write_bytes(JPEG)
            frames.append(f"entry/{attempt_id}/{k}.jpg")
        checks.append(
            {
                "physician_id": physicians[n // per_physician],
                "attempt_id": attempt_id,
                "checked_at": started,
                "outcome": EntryOutcome.PASSED,
                "decision": {},
                "frames": frames,
            }
        )
        if len(batch) >= 10_000:
            db.session.execute(sa.insert(Snapshot), batch)
            batch = []
    if batch:
        db.session.execute(sa.insert(Snapshot), batch)
    db.session.execute(sa.insert(EntryCheck), checks)
    db.session.commit()
    return len(ids), snapshot_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--snapshots", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from examsvc import create_app
    from examsvc.camera.retention import Policy, purge
    from examsvc.clock import FrozenClock

    t0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": url,
                "DATA_DIR": str(data_dir),
                "CLOCK": FrozenClock(t0),
            }
        )
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            attempts, snapshots = build(data_dir, args.snapshots, t0)
            print(
                f"built {snapshots:,} snapshots + {2 * attempts:,} entry frames of {attempts:,}"
                f" attempts (rows and files) in {time.perf_counter() - started:.1f} s"
                f" on {app.extensions['sqlalchemy'].engines[None].dialect.name}"
            )
            policy = Policy(clean_days=30, flagged_days=180, batch=args.batch)
            for label, days, dry in (
                ("dry run, day 31", 31, True),
                ("clean attempts, day 31", 31, False),
                ("again, day 31 (nothing due)", 31, False),
                ("flagged evidence, day 181", 181, False),
            ):
                started = time.perf_counter()
                done = purge(data_dir, t0 + timedelta(days=days), policy, dry_run=dry)
                seconds = time.perf_counter() - started
                deleted = done.snapshots + done.entry_checks
                rate = f"{done.files / seconds:,.0f} files/s" if done.files else "-"
                print(
                    f"{label}: {done.snapshots:,} snapshots ({done.snapshots_clean:,} clean,"
                    f" {done.snapshots_flagged:,} flagged), {done.entry_checks:,} entry checks,"
                    f" {done.files:,} files deleted, {done.batches} batches,"
                    f" {seconds:.1f} s ({rate}; {deleted:,} rows)"
                )


if __name__ == "__main__":
    main()
