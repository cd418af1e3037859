"""``examsvc snapshots …``: the camera feature's commands."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from examsvc.camera.retention import Policy, purge
from examsvc.clock import now


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
