"""The camera feature's commands: ``examsvc faces …`` (calibrate the face thresholds on the
roster, show what is in force) and ``examsvc snapshots purge`` (retention)."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from examsvc import uow
from examsvc.audit.operations import record
from examsvc.camera import calibration as calib
from examsvc.camera.retention import Policy, purge
from examsvc.clock import now
from examsvc.extensions import db
from examsvc.roster.models import Cycle
from examsvc.roster.queries import current_cycle
from proctoring.calibration import MAX_PAIRS, NotEnoughPairs, pairs_needed

faces = AppGroup("faces", help="Face verification thresholds.")


@faces.command("calibrate")
@click.option("--cycle", "cycle_code", help="Cycle code (default: the current cycle).")
@click.option(
    "--target-far", type=float, default=0.001, show_default=True, help="FAR of the accept band."
)
@click.option(
    "--loose-far",
    type=float,
    default=0.05,
    show_default=True,
    help="FAR beyond which a face is refused (between the two: an invigilator reviews).",
)
@click.option("--max-pairs", type=int, default=MAX_PAIRS, show_default=True)
@click.option("--seed", type=int, help="Seed of the pair sample (to repeat a run).")
@uow.transactional
def calibrate(
    cycle_code: str | None, target_far: float, loose_far: float, max_pairs: int, seed: int | None
) -> None:
    """Thresholds from pairs of the cycle's registration photos (different people by
    construction), stored as the next calibration version and used from now on."""
    cycle = (
        db.session.scalars(sa.select(Cycle).where(Cycle.code == cycle_code)).first()
        if cycle_code
        else current_cycle()
    )
    if cycle is None:
        raise click.ClickException("no such cycle")
    if not 0 < target_far <= loose_far < 1:
        raise click.ClickException("need 0 < --target-far ≤ --loose-far < 1")
    try:
        row = calib.calibrate_cycle(
            cycle,
            strict_far=target_far,
            loose_far=loose_far,
            max_pairs=max_pairs,
            seed=seed,
            actor_id=None,
            now=now(),
        )
    except NotEnoughPairs as exc:
        raise click.ClickException(
            f"照片合格的考生太少：{exc.pairs} 对照片不足以证明误识率 ≤ {exc.target_far:g}，"
            f"至少需要 {exc.needed} 对（{calib.people_for_pairs(exc.needed)} 名考生）"
        ) from None
    record(
        "face.calibrate",
        "face_calibration",
        row.version,
        actor_id=None,
        now=row.created_at,
        via="cli",
        pairs=row.pairs,
        entry_accept=row.entry_accept,
        entry_reject=row.entry_reject,
    )
    click.echo(describe(row))


@faces.command("show")
def show() -> None:
    """The thresholds in force and where they come from."""
    row = calib.latest()
    if row is None:
        config = calib.effective_config()
        click.echo(
            "尚未进行人脸阈值校准，正在使用保守的默认阈值："
            f"entry {config.entry_accept}/{config.entry_reject}, "
            f"continuity {config.continuity_accept}/{config.continuity_reject}"
        )
        click.echo(f"(0.1 % needs {pairs_needed(0.001)} pairs, 1 % needs {pairs_needed(0.01)})")
        return
    click.echo(describe(row))


def describe(row: calib.FaceCalibration) -> str:
    d = row.details
    lines = [
        f"calibration v{row.version}: {row.people} photos, {row.pairs} impostor pairs"
        f"{' (all)' if row.all_pairs else ' (random sample)'}, {row.seconds:.2f} s",
        f"entry accept ≤ {row.entry_accept:.4f} (FAR {d['entry_accept']['observed_far']:.4%},"
        f" ≤ {row.entry_accept_far_upper:.4%} at {row.confidence:.0%}; target {row.strict_far:g})",
        f"entry review ≤ {row.entry_reject:.4f} (FAR {d['entry_reject']['observed_far']:.4%},"
        f" ≤ {row.entry_reject_far_upper:.4%}; target {row.loose_far:g})",
    ]
    if row.continuity_accept is not None and row.continuity_reject is not None:
        lines.append(
            f"continuity {row.continuity_accept:.4f} / {row.continuity_reject:.4f}"
            f" (targets ÷ {d['enrolled_frames']} enrolled frames)"
        )
    else:
        lines.append("continuity: too few pairs for its rates; the defaults stay")
    imp = d["impostor"]
    lines.append(
        f"impostor distances: min {imp['min']}, 0.1 % {imp['q0_1']}, 1 % {imp['q1']},"
        f" median {imp['median']}"
    )
    genuine = d["genuine"]
    if genuine["count"]:
        lines.append(
            f"confirmed same-person entries: {genuine['count']}, to review"
            f" {genuine['frr_strict']:.1%}, refused {genuine['frr_loose']:.1%}"
        )
    return "\n".join(lines)


@click.group("snapshots")
def snapshots() -> None:
    """Snapshots and entry frames (face images) of the attempts."""


@snapshots.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what is due, delete nothing.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Delete the face images whose retention period has ended (the server does this every
    EXAMSVC_RETENTION_PURGE_INTERVAL seconds): clean attempts' after
    EXAMSVC_RETENTION_CLEAN_DAYS, flagged evidence after EXAMSVC_RETENTION_FLAGGED_DAYS."""
    policy = Policy.from_config(current_app.config)
    done = purge(current_app.config["DATA_DIR"], now(), policy, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb}: {done.snapshots} snapshots ({done.snapshots_clean} of clean attempts after"
        f" {policy.clean_days} days, {done.snapshots_flagged} flagged after"
        f" {policy.flagged_days} days), the frames of {done.entry_checks} entry checks;"
        f" {done.files} files, {done.missing_files} already gone, {done.bytes} bytes of"
        f" snapshots, in {done.batches} batches"
    )
    for error in done.errors:
        click.echo(error, err=True)
