"""Retention by outcome (PIPL): the face images of an attempt are deleted once they are no
longer needed, sooner for a clean attempt than for flagged evidence.

- **Clean** attempt: every snapshot analysed ``ok``, no warning, not voided, entry verified
  (``passed``). Its snapshots and entry frames are deleted ``RETENTION_CLEAN_DAYS`` after its
  result is final.
- **Flagged** attempt: a snapshot of any other status, a warning (``proctor_warnings``), the
  attempt voided, or an entry check that was not a plain pass (review, mismatch, override …).
  Its images are evidence for an appeal, deleted ``RETENTION_FLAGGED_DAYS`` after the result
  is final.

An attempt's result is final when it was handed in or voided (``Attempt.submitted_at``, set
for both); images of an attempt in progress are never deleted. An entry check without an
attempt (the physician never started) counts from its own ``checked_at`` and is flagged
unless it passed.

Deleting an image removes its file and clears its reference (``Snapshot.path = None``,
``EntryCheck.frames = []``); the rows, the engine's decision and its measurements stay. The
work runs in batches of ``RETENTION_BATCH`` rows, each one unit of work (files first, then the
rows: a failure between the two leaves a reference to a missing file, which the next run
clears), keyset-ordered by id so that rows not yet due are read once per run: the due
attempts a thousand at a time, then their snapshots a batch at a time. A second run
finds nothing to do. ``now`` is passed in.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from examsvc import clock, offload
from examsvc.attempts.models import Attempt
from examsvc.camera.models import EntryCheck, EntryOutcome, Snapshot, SnapshotStatus
from examsvc.config import ConfigError
from examsvc.enums import AttemptStatus
from examsvc.extensions import db, table
from examsvc.uow import unit_of_work


@dataclass(frozen=True)
class Policy:
    clean_days: int
    flagged_days: int
    batch: int = 1000

    def __post_init__(self) -> None:
        if not 0 <= self.clean_days <= self.flagged_days:
            raise ConfigError(
                "EXAMSVC_RETENTION_CLEAN_DAYS must be 0 or more and at most"
                " EXAMSVC_RETENTION_FLAGGED_DAYS (flagged evidence is kept longer)"
            )
        if self.batch < 1:
            raise ConfigError("EXAMSVC_RETENTION_BATCH must be 1 or more")

    @classmethod
    def from_config(cls, config: Any) -> Policy:
        return cls(
            config["RETENTION_CLEAN_DAYS"],
            config["RETENTION_FLAGGED_DAYS"],
            config["RETENTION_BATCH"],
        )


@dataclass
class Purged:
    """What a run deleted (or, dry, would delete)."""

    snapshots_clean: int = 0
    snapshots_flagged: int = 0
    entry_checks: int = 0
    files: int = 0
    missing_files: int = 0  # referenced but already gone (a run stopped half-way)
    bytes: int = 0
    batches: int = 0
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def snapshots(self) -> int:
        return self.snapshots_clean + self.snapshots_flagged


def flagged(attempt_id: Any, attempt_status: Any) -> Any:
    """SQL: the attempt's images are flagged evidence (kept for the appeal period)."""
    warnings = table("proctor_warnings")  # invigilation is above camera: read, never imported
    snapshot, entry = aliased(Snapshot), aliased(EntryCheck)
    return sa.or_(
        attempt_status == AttemptStatus.VOIDED,
        sa.exists().where(warnings.c.attempt_id == attempt_id),
        sa.exists().where(snapshot.attempt_id == attempt_id, snapshot.status != SnapshotStatus.OK),
        sa.exists().where(entry.attempt_id == attempt_id, entry.outcome != EntryOutcome.PASSED),
    )


def _cutoffs(policy: Policy, now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=policy.clean_days), now - timedelta(days=policy.flagged_days)


def _due_attempts(policy: Policy, now: datetime, after: int, limit: int) -> Any:
    """The next attempts (by id) whose images are due: ``(id, flagged)``. Read a thousand
    attempts at a time, so that the database decides each attempt's class once, not once per
    snapshot (on PostgreSQL a join of snapshots ordered by id and limited is planned as a
    scan of every due snapshot, per batch)."""
    clean_cut, flagged_cut = _cutoffs(policy, now)
    is_flagged = flagged(Attempt.id, Attempt.status)
    return (
        sa.select(Attempt.id, is_flagged.label("flagged"))
        .where(
            Attempt.id > after,
            Attempt.submitted_at.is_not(None),
            Attempt.submitted_at <= clean_cut,
            sa.or_(Attempt.submitted_at <= flagged_cut, ~is_flagged),
        )
        .order_by(Attempt.id)
        .limit(limit)
    )


def _snapshots_of(attempt_ids: list[int], after: int, limit: int) -> Any:
    """The next snapshots (by id) of these attempts that still have a file."""
    return (
        sa.select(Snapshot.id, Snapshot.attempt_id, Snapshot.path, Snapshot.size)
        .where(
            Snapshot.attempt_id.in_(attempt_ids), Snapshot.id > after, Snapshot.path.is_not(None)
        )
        .order_by(Snapshot.id)
        .limit(limit)
    )


def _due_entry_checks(policy: Policy, now: datetime, after: int, limit: int) -> Any:
    clean_cut, flagged_cut = _cutoffs(policy, now)
    final_at = sa.func.coalesce(Attempt.submitted_at, EntryCheck.checked_at)
    is_flagged = sa.or_(
        EntryCheck.outcome != EntryOutcome.PASSED,
        sa.and_(EntryCheck.attempt_id.is_not(None), flagged(EntryCheck.attempt_id, Attempt.status)),
    )
    return (
        sa.select(EntryCheck.id, EntryCheck.frames)
        .outerjoin(Attempt, Attempt.id == EntryCheck.attempt_id)
        .where(
            EntryCheck.id > after,
            sa.func.json_array_length(EntryCheck.frames) > 0,
            # an attempt in progress keeps its entry frames
            sa.or_(EntryCheck.attempt_id.is_(None), Attempt.submitted_at.is_not(None)),
            final_at <= clean_cut,
            sa.or_(final_at <= flagged_cut, ~is_flagged),
        )
        .order_by(EntryCheck.id)
        .limit(limit)
    )


def _remove(data_dir: Path, paths: Iterable[str], purged: Purged) -> None:
    """Delete the files (never outside ``data_dir``) and their emptied folders. Under
    ``examsvc serve`` on an OS thread (``offload.hash_call``): gevent does not make file
    system calls cooperative, and a thousand unlinks would stall every candidate's saves."""
    root = data_dir.resolve()
    folders = set()
    for relative in paths:
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or path == root:
            purged.errors.append(f"outside DATA_DIR, left alone: {relative}")
            continue
        try:
            os.unlink(path)
            purged.files += 1
        except FileNotFoundError:
            purged.missing_files += 1
        folders.add(path.parent)
    for folder in folders:
        with contextlib.suppress(OSError):  # only when empty: the attempt's last image went
            folder.rmdir()


def purge(data_dir: str | Path, now: datetime, policy: Policy, *, dry_run: bool = False) -> Purged:
    """Delete the images that are due at ``now``; each batch is a unit of work (commits)."""
    data_dir = Path(data_dir)
    purged = Purged(dry_run=dry_run)
    after_attempt = 0
    while True:
        with unit_of_work():  # reading only: which attempts are due
            due = db.session.execute(_due_attempts(policy, now, after_attempt, policy.batch)).all()
        if not due:
            break
        after_attempt = due[-1].id
        is_flagged = {a.id: a.flagged for a in due}
        after = 0
        while True:
            with unit_of_work():
                rows = db.session.execute(
                    _snapshots_of(list(is_flagged), after, policy.batch)
                ).all()
                if not rows:
                    break
                after = rows[-1].id
                purged.batches += 1
                flagged_rows = sum(1 for r in rows if is_flagged[r.attempt_id])
                purged.snapshots_flagged += flagged_rows
                purged.snapshots_clean += len(rows) - flagged_rows
                purged.bytes += sum(r.size for r in rows)
                if not dry_run:
                    offload.hash_call(_remove, data_dir, [r.path for r in rows], purged)
                    db.session.execute(
                        sa.update(Snapshot)
                        .where(Snapshot.id.in_([r.id for r in rows]))
                        .values(path=None)
                    )
    after = 0
    while True:
        with unit_of_work():
            checks = db.session.execute(_due_entry_checks(policy, now, after, policy.batch)).all()
            if not checks:
                break
            after = checks[-1].id
            purged.batches += 1
            purged.entry_checks += len(checks)
            if not dry_run:
                offload.hash_call(_remove, data_dir, [p for c in checks for p in c.frames], purged)
                db.session.execute(
                    sa.update(EntryCheck)
                    .where(EntryCheck.id.in_([c.id for c in checks]))
                    .values(frames=[])
                )
    return purged


def scheduled_purge(app: Any) -> Purged:
    """The periodic job (``examsvc serve``): purge what is due now."""
    return purge(app.config["DATA_DIR"], clock.now(), Policy.from_config(app.config))


def purge_interval(app: Any) -> float:
    return float(app.config["RETENTION_PURGE_INTERVAL"])
