"""Results: the result notice (``views.py`` serves it, ``notice.py`` renders the PDF) and the
write-back to the registration system: each decided result queued in the outbox
(``models``) in the transaction that decided it (``operations``, on
``signals.verdict_may_change``), the results closed windows decide (``sweep``), the
delivery (``delivery``), and the agency's reconciliation of it (``views``, ``queries``,
``reconcile``, ``export``, ``cli``)."""

from __future__ import annotations

from flask import Flask

from examsvc.jobs import JOBS, every
from examsvc.signals import verdict_may_change


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.results import cli, jobs, operations, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.results)
    verdict_may_change.connect(operations.on_verdict_may_change)
    if not any(job.name == "result-delivery" for job in JOBS):
        every("result-delivery", jobs.delivery_interval)(jobs.scheduled_delivery)
    if not any(job.name == "result-sweep" for job in JOBS):
        every("result-sweep", jobs.sweep_interval)(jobs.scheduled_sweep)
