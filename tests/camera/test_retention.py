"""Retention by outcome: clean attempts' face images go after the short period, flagged
evidence after the appeal period, with time travel on the frozen clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from examsvc.camera.models import EntryCheck, EntryOutcome, Snapshot, SnapshotStatus
from examsvc.camera.retention import Policy, purge
from examsvc.config import ConfigError
from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.invigilation.models import ProctorWarning
from examsvc.jobs import JOBS
from examsvc.roster.models import Cycle
from tests.factories import create_physician, create_user
from tests.factories_exam import create_attempt, paper_window

POLICY = Policy(clean_days=30, flagged_days=180, batch=2)  # small batches: several per run


def image(data_dir: Path, relative: str) -> str:
    path = data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8 jpeg \xff\xd9")
    return relative


def snapshot(data_dir: Path, attempt: Any, status: SnapshotStatus, n: int) -> Snapshot:
    row = Snapshot(
        attempt_id=attempt.id,
        received_at=attempt.started_at + timedelta(minutes=n),
        size=12,
        status=status,
        flags=[] if status == SnapshotStatus.OK else [status.value],
        distance=0.31,
        measurements={"brightness": 120},
    )
    db.session.add(row)
    db.session.flush()
    row.path = image(data_dir, f"snapshots/{attempt.id}/{row.id}.jpg")
    return row


def entry(data_dir: Path, physician: Any, attempt: Any, outcome: EntryOutcome, at: Any) -> Any:
    check = EntryCheck(
        physician_id=physician.id,
        attempt_id=attempt.id if attempt else None,
        checked_at=at,
        outcome=outcome,
        decision={"distance": 0.3},
        frames=[],
    )
    db.session.add(check)
    db.session.flush()
    check.frames = [image(data_dir, f"entry/{check.id}/{i}.jpg") for i in range(2)]
    return check


@pytest.fixture
def world(app, clock) -> dict[str, Any]:
    """Attempts handed in at ``clock.now()``: one clean, three flagged (a bad snapshot, a
    warning, voided), one still in progress; an entry check refused without an attempt."""
    data_dir = Path(app.config["DATA_DIR"])
    t0 = clock.now()
    window = paper_window(t0 - timedelta(hours=2))
    paper = window.paper
    cycle = db.session.get(Cycle, paper.cycle_id)
    people = [create_physician(cycle) for _ in range(6)]
    started = t0 - timedelta(minutes=30)  # handed in at t0
    clean = create_attempt(people[0], paper, window, "passed", started)
    bad_snapshot = create_attempt(people[1], paper, window, "failed", started)
    warned = create_attempt(people[2], paper, window, "passed", started)
    voided = create_attempt(people[3], paper, window, "voided", started)
    running = create_attempt(people[4], paper, window, "in_progress", t0 - timedelta(minutes=5))
    for attempt in (clean, bad_snapshot, warned, voided, running):
        for n in range(3):
            snapshot(data_dir, attempt, SnapshotStatus.OK, n)
        entry(data_dir, attempt.physician, attempt, EntryOutcome.PASSED, attempt.started_at)
    snapshot(data_dir, bad_snapshot, SnapshotStatus.MISMATCH, 9)
    invigilator = create_user(Role.INVIGILATOR)
    db.session.add(
        ProctorWarning(
            attempt_id=warned.id, sent_by=invigilator.id, sent_at=t0, message="请正对摄像头"
        )
    )
    refused = entry(data_dir, people[5], None, EntryOutcome.MISMATCH, t0)
    db.session.commit()
    return {
        "data_dir": data_dir,
        "clean": clean,
        "flagged": [bad_snapshot, warned, voided],
        "running": running,
        "refused": refused,
    }


def files_of(data_dir: Path, attempt: Any) -> list[Path]:
    snaps = db.session.scalars(sa.select(Snapshot).where(Snapshot.attempt_id == attempt.id))
    checks = db.session.scalars(sa.select(EntryCheck).where(EntryCheck.attempt_id == attempt.id))
    paths = [s.path for s in snaps if s.path] + [f for c in checks for f in c.frames]
    return [data_dir / p for p in paths]


def on_disk(data_dir: Path) -> int:
    return sum(1 for p in data_dir.rglob("*.jpg"))


def test_clean_images_go_after_the_short_period_and_not_before(world, clock):
    data_dir = world["data_dir"]
    total = on_disk(data_dir)
    assert total == 16 * 1 + 10 + 2  # 16 snapshots, 5 entry checks × 2, the refused check × 2
    clock.advance(days=29, hours=23)
    early = purge(data_dir, clock.now(), POLICY)
    assert (early.snapshots, early.entry_checks, early.files) == (0, 0, 0)
    assert on_disk(data_dir) == total

    clock.advance(hours=1)  # 30 days after the result is final
    done = purge(data_dir, clock.now(), POLICY)
    assert (done.snapshots_clean, done.snapshots_flagged, done.entry_checks) == (3, 0, 1)
    assert done.files == 5 and done.missing_files == 0 and done.bytes == 36
    assert done.batches == 3  # 2 + 1 snapshots, then 1 entry check
    db.session.expire_all()
    rows = db.session.scalars(
        sa.select(Snapshot).where(Snapshot.attempt_id == world["clean"].id)
    ).all()
    assert len(rows) == 3 and all(r.path is None for r in rows)  # the rows stay
    assert all(r.measurements == {"brightness": 120} and r.distance == 0.31 for r in rows)
    check = db.session.scalars(
        sa.select(EntryCheck).where(EntryCheck.attempt_id == world["clean"].id)
    ).one()
    assert check.frames == [] and check.decision == {"distance": 0.3}
    assert not (data_dir / "snapshots" / str(world["clean"].id)).exists()  # folder removed
    assert on_disk(data_dir) == total - 5
    for attempt in [*world["flagged"], world["running"]]:
        assert files_of(data_dir, attempt) and all(p.exists() for p in files_of(data_dir, attempt))

    again = purge(data_dir, clock.now(), POLICY)  # idempotent
    assert (again.snapshots, again.entry_checks, again.files) == (0, 0, 0)


def test_flagged_evidence_is_kept_until_the_appeal_period_ends(world, clock):
    data_dir = world["data_dir"]
    clock.advance(days=100)
    first = purge(data_dir, clock.now(), POLICY)
    assert (first.snapshots_clean, first.snapshots_flagged) == (3, 0)
    clock.advance(days=79, hours=23)
    assert purge(data_dir, clock.now(), POLICY).files == 0

    clock.advance(hours=1)  # 180 days
    dry = purge(data_dir, clock.now(), POLICY, dry_run=True)
    assert (dry.snapshots_flagged, dry.entry_checks, dry.files, dry.dry_run) == (10, 4, 0, True)
    assert all(p.exists() for a in world["flagged"] for p in files_of(data_dir, a))

    done = purge(data_dir, clock.now(), POLICY)
    assert (done.snapshots_clean, done.snapshots_flagged, done.entry_checks) == (0, 10, 4)
    assert done.files == 10 + 4 * 2
    for attempt in world["flagged"]:
        assert files_of(data_dir, attempt) == []
    db.session.expire_all()
    assert db.session.get(EntryCheck, world["refused"].id).frames == []
    # Still running: nothing of it is ever deleted, however old.
    assert len(files_of(data_dir, world["running"])) == 5
    assert on_disk(data_dir) == 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Snapshot)) == 16
    assert purge(data_dir, clock.now(), POLICY).files == 0


def test_a_file_already_gone_is_counted_and_its_reference_cleared(world, clock):
    data_dir = world["data_dir"]
    gone = files_of(data_dir, world["clean"])[0]
    gone.unlink()
    clock.advance(days=30)
    done = purge(data_dir, clock.now(), POLICY)
    assert done.missing_files == 1 and done.files == 4
    assert files_of(data_dir, world["clean"]) == []


def test_the_command_and_the_scheduled_job(app, world, clock):
    runner = app.test_cli_runner()
    clock.advance(days=31)
    dry = runner.invoke(args=["snapshots", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete: 3 snapshots (3 of clean attempts after 30 days" in dry.output
    assert on_disk(world["data_dir"]) == 28
    done = runner.invoke(args=["snapshots", "purge"])
    assert "deleted: 3 snapshots" in done.output and "5 files" in done.output
    assert on_disk(world["data_dir"]) == 23
    job = next(j for j in JOBS if j.name == "snapshot-purge")
    assert job.interval(app) == 3600
    clock.advance(days=150)
    job.run(app)  # what `examsvc serve` runs every EXAMSVC_RETENTION_PURGE_INTERVAL seconds
    assert on_disk(world["data_dir"]) == 5


def test_the_periods_are_checked():
    with pytest.raises(ConfigError):
        Policy(clean_days=200, flagged_days=180)
    with pytest.raises(ConfigError):
        Policy(clean_days=-1, flagged_days=180)
