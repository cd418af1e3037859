"""Auto-submit at the deadline, also when nobody is connected; safe in several processes."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from examsvc.attempts import operations as ops
from examsvc.clock import now
from examsvc.enums import SubmitReason
from examsvc.uow import unit_of_work


def sweep(app: Flask | None = None) -> int:
    """Submit every attempt past its deadline and the late-save grace; returns how many."""
    grace = timedelta(seconds=current_app.config["ANSWER_GRACE_SECONDS"])
    done = 0
    for attempt_id in ops.due_attempts(now(), grace):
        with unit_of_work():  # one attempt per unit: a failure loses nothing else
            attempt = ops.submit_attempt(attempt_id, now=now(), reason=SubmitReason.DEADLINE)
            done += attempt.submit_reason == SubmitReason.DEADLINE
    return done


@click.command("sweep")
@with_appcontext
def sweep_command() -> None:
    """Submit attempts whose time is up (the server does this every few seconds)."""
    click.echo(f"submitted {sweep()}")
