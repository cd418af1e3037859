"""``examsvc roster …``: pull from the registry, import a file, load photos, get the template."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from examsvc import uow
from examsvc.clock import now
from examsvc.extensions import db
from examsvc.registry import RegistryClient, RegistryError, RetryPolicy
from examsvc.roster import files, operations
from examsvc.roster.checks import PhotoPool
from examsvc.roster.models import Cycle
from examsvc.roster.queries import current_cycle
from examsvc.roster.schemas import CycleInfo

PHOTO_DOWNLOADS = 8  # concurrent photo downloads from the registry during a pull

roster = AppGroup("roster", help="The roster of physicians from the registration system.")


@roster.command("pull")
@click.option("--cycle", "cycle_code", help="Cycle code (default: EXAMSVC_REGISTRY_CYCLE).")
@click.option("--base-url", help="Registry base URL (default: EXAMSVC_REGISTRY_BASE_URL).")
@click.option(
    "--token-env",
    default="EXAMSVC_REGISTRY_TOKEN",
    show_default=True,
    help="Environment variable holding the bearer token.",
)
def pull(cycle_code: str | None, base_url: str | None, token_env: str) -> None:
    """Pull the approved roster (incremental, resumable) with photos."""
    config = current_app.config
    cycle_code = cycle_code or config["REGISTRY_CYCLE"]
    base_url = base_url or config["REGISTRY_BASE_URL"]
    token = os.environ.get(token_env) or config["REGISTRY_TOKEN"]
    if not (cycle_code and base_url and token):
        raise click.ClickException("set the cycle, the registry base URL and the token")
    client = RegistryClient(
        base_url,
        token,
        timeout=config["REGISTRY_TIMEOUT"],
        policy=RetryPolicy(base_delay=config["REGISTRY_RETRY_SECONDS"]),
    )
    try:
        # Photo checks on every core (FACE_WORKERS, 0: one per core), downloads 8 at a time.
        with PhotoPool(config["FACE_WORKERS"]) as checker:
            report = operations.pull(
                client,
                cycle_code,
                now=now,
                data_dir=config["DATA_DIR"],
                checker=checker,
                downloads=PHOTO_DOWNLOADS,
            )
    except (RegistryError, operations.PullBusy) as exc:
        raise click.ClickException(
            f"pull stopped: {exc} (what was stored is kept; the next pull resumes)"
        ) from None
    click.echo(report.summary())
    for registration_id, field, why in report.problems:
        click.echo(f"  {registration_id} {field}: {why}")


def _cycle(code: str | None) -> Cycle:
    cycle = (
        db.session.scalars(sa.select(Cycle).where(Cycle.code == code)).first()
        if code
        else current_cycle()
    )
    if cycle is None:
        raise click.ClickException("no such cycle: create it with `examsvc roster cycle`")
    return cycle


@roster.command("cycle")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--starts", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--ends", type=click.DateTime(["%Y-%m-%d"]), required=True)
@uow.transactional
def make_cycle(code: str, name: str, starts: date, ends: date) -> None:
    """Create or update a cycle (for agencies importing files)."""
    operations.ensure_cycle(CycleInfo(code=code, name=name, starts_on=starts, ends_on=ends))
    click.echo(f"cycle {code} ready")


@roster.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cycle", "cycle_code")
@uow.transactional
def import_file(path: Path, cycle_code: str | None) -> None:
    """Import a CSV/XLSX roster: all rows or none."""
    cycle = _cycle(cycle_code)
    try:
        items = files.parse(path.read_bytes(), path.name)
        report = operations.import_items(cycle, items, now=now())
    except files.RosterFileError as exc:
        for problem in exc.problems:
            click.echo(f"第 {problem.row} 行「{problem.column}」：{problem.message}", err=True)
        raise click.ClickException(f"{len(exc.problems)} 处错误，文件未导入") from None
    click.echo(report.summary())


@roster.command("photos")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--cycle", "cycle_code")
@uow.transactional
def import_photos(folder: str, cycle_code: str | None) -> None:
    """Load registration photos from a folder (files named by registration id or ID number)."""
    cycle = _cycle(cycle_code)
    report = operations.import_photo_folder(
        cycle,
        folder,
        data_dir=current_app.config["DATA_DIR"],
        checker=operations.engine_photo_checker,
    )
    click.echo(report.summary())
    for registration_id, field, why in report.problems:
        click.echo(f"  {registration_id} {field}: {why}")


@roster.command("template")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def template(out: Path) -> None:
    """Write the XLSX roster template."""
    out.write_bytes(files.template())
    click.echo(f"wrote {out}")
