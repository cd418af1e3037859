"""Demo mode: demo data, and (demo only) enrolling a registration photo from the camera."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from examsvc import uow
from examsvc.clock import now
from examsvc.demo import data
from examsvc.roster import operations


@click.command("demo")
@click.argument("action", type=click.Choice(["load"]))
@click.option(
    "--photos",
    type=click.Path(exists=True, file_okay=False),
    help="Folder of registration photos named by registration id (e.g. DEMO-0001.jpg).",
)
@with_appcontext
@uow.transactional
def demo_command(action: str, photos: str | None) -> None:
    """Load the demo data (a cycle, staff and physicians); prints the accounts."""
    accounts = data.load(now=now())
    cycle = data.demo_cycle()
    assert cycle is not None
    for line in data.load_exam_setup(cycle, now=now()):
        click.echo(line)
    if photos:
        report = operations.import_photo_folder(
            cycle,
            photos,
            data_dir=current_app.config["DATA_DIR"],
            checker=operations.engine_photo_checker,
        )
        click.echo("照片：" + report.summary())
    click.echo("\n演示账号（demo accounts）:")
    for account in accounts:
        click.echo(
            f"  {account.who:<14} 登录名 {account.login:<38} 密码 {account.password:<18} {account.note}"
        )
    click.echo("医师首次登录须修改密码；没有照片的演示医师可在首页用摄像头采集照片（仅演示模式）。")


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_command)
    if app.config["DEMO_MODE"]:
        # local import: the demo's pages load only in demo mode
        from examsvc.demo import views

        app.register_blueprint(views.bp)
