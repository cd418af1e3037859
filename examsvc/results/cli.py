"""``examsvc results …``: deliver the outbox to the registration system, sweep closed windows."""

from __future__ import annotations

import signal
import time
from types import FrameType

import click
from flask import current_app
from flask.cli import AppGroup

from examsvc.clock import now
from examsvc.results import delivery, sweep

results = AppGroup("results", help="Exam results written back to the registration system.")


@results.command("deliver")
@click.option("--forever", is_flag=True, help="Keep delivering (a delivery process of its own).")
@click.option("--limit", type=int, default=None, help="Stop after this many rows were tried.")
def deliver(forever: bool, limit: int | None) -> None:
    """Send the due results to the registration system (retries wait their turn)."""
    config = current_app.config
    client = delivery.registry_client(config)
    if client is None:
        raise click.ClickException("set EXAMSVC_REGISTRY_BASE_URL and EXAMSVC_REGISTRY_TOKEN")
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    while True:
        report = delivery.deliver(
            client, now, lease_seconds=config["RESULTS_LEASE_SECONDS"], limit=limit
        )
        if not forever or stopping:
            click.echo(report.summary())
            return
        if report.delivered + report.refused + report.retrying == 0:
            time.sleep(max(1, config["RESULTS_DELIVERY_INTERVAL"]))


@results.command("sweep")
@click.option("--batch", type=int, default=None, help="Physicians per unit of work.")
def sweep_command(batch: int | None) -> None:
    """Queue the results that closed exam windows decided (缺考, an unused makeup)."""
    batch = batch or current_app.config["RESULTS_SWEEP_BATCH"]
    click.echo(f"queued {sweep.sweep(now, batch)}")
