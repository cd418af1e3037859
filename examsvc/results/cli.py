"""``examsvc results …``: deliver the outbox to the registration system, sweep closed
windows, the write-back's state, sending results again, comparing with the registration
system. No ID numbers are printed."""

from __future__ import annotations

import signal
import time
from types import FrameType

import click
from flask import current_app
from flask.cli import AppGroup

from examsvc import uow
from examsvc.audit.operations import record
from examsvc.clock import now
from examsvc.errors import Refused
from examsvc.extensions import db
from examsvc.results import delivery, queries, reconcile, sweep
from examsvc.results.models import DeliveryStatus, ResultDelivery
from examsvc.results.words import registry_answer

results = AppGroup("results", help="Exam results written back to the registration system.")


def _filter(cycle_code: str | None) -> queries.Filter:
    f = queries.read_filter({"cycle": cycle_code or ""})
    if f.cycle is None or (cycle_code and f.cycle.code != cycle_code):
        raise click.ClickException(f"no such cycle: {cycle_code or '(none)'}")
    return f


@results.command("status")
@click.option("--cycle", "cycle_code", help="Cycle code (default: the current cycle).")
def status(cycle_code: str | None) -> None:
    """Counts by delivery state, and each refused result with the registry's answer."""
    f = _filter(cycle_code)
    counts = queries.counts(f)
    click.echo(f"cycle {f.cycle.code if f.cycle else ''}")
    for state in DeliveryStatus:
        line = f"  {state.value}: {counts.by_status[state.value]}"
        if state == DeliveryStatus.PENDING and counts.next_try_at is not None:
            line += f" (next try {counts.next_try_at.isoformat()})"
        click.echo(line)
    for d in queries.refused(f):
        answer = registry_answer(d.last_error) or "no answer"
        click.echo(
            f"  refused #{d.id} {d.physician.registration_id} {d.physician.name}: "
            f"HTTP {d.last_http_status or '-'} {answer}"
        )


@results.command("resend")
@click.option("--id", "delivery_id", type=int, help="The result's number (#N in `status`).")
@click.option("--refused", is_flag=True, help="Every refused result of the cycle.")
@click.option("--cycle", "cycle_code", help="Cycle code for --refused (default: the current).")
@uow.transactional
def resend(delivery_id: int | None, refused: bool, cycle_code: str | None) -> None:
    """Send a refused or pending result again at once (its Idempotency-Key kept)."""
    if (delivery_id is None) == (not refused):
        raise click.UsageError("give either --id N or --refused")
    if delivery_id is not None:
        delivery = db.session.get(ResultDelivery, delivery_id)
        if delivery is None:
            raise click.ClickException(f"no result #{delivery_id}")
        was = delivery.status.value
        try:
            reconcile.resend(delivery, now=now())
        except Refused as exc:
            raise click.ClickException(str(exc)) from None
        record(
            "results.resend",
            "result_delivery",
            delivery.id,
            actor_id=None,
            now=now(),
            physician=delivery.physician.registration_id,
            was=was,
            via="cli",
        )
        click.echo(f"#{delivery.id} queued to be sent now")
        return
    f = _filter(cycle_code)
    count = reconcile.resend_refused(queries.refused_ids(f), now=now())
    record(
        "results.resend_refused",
        "cycle",
        f.cycle.id if f.cycle else None,
        actor_id=None,
        now=now(),
        count=count,
        via="cli",
    )
    click.echo(f"{count} refused results queued to be sent now")


@results.command("compare")
@click.option("--cycle", "cycle_code", help="Cycle code (default: the current cycle).")
@click.option("--page", default=1, show_default=True, help="Which page of results (50 each).")
def compare(cycle_code: str | None, page: int) -> None:
    """Compare a page of results with what the registration system holds."""
    client = reconcile.client_of(current_app.config)
    if client is None:
        raise click.ClickException("set the registry base URL and token to compare")
    _, rows = queries.page(_filter(cycle_code), page)
    sent = reconcile.sent_of(rows)
    names = {d.id: f"#{d.id} {d.physician.registration_id}" for d in rows}
    uow.end_reads()
    for delivery_id, c in reconcile.compare(client, sent).items():
        detail = ", ".join(c.differs) or c.note
        click.echo(f"  {names[delivery_id]}: {c.outcome}" + (f" ({detail})" if detail else ""))


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
