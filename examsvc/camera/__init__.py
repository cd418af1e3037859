"""The candidate's camera, beside the exam: consent to face data, the device check and
entry face verification before an attempt, random snapshots and page events during it,
the bridge to the face engine (``faces``) and the images' retention (``retention``)."""

from __future__ import annotations

from flask import Flask

from examsvc import warm
from examsvc.jobs import JOBS, every
from examsvc.web.openapi import add_part


def init_app(app: Flask) -> None:
    """Views and socket events (the gate before an attempt), the commands (face calibration,
    snapshot purge), the calibration page, the retention job, the entry gate the
    attempts feature asks (``ENTRY_GATE``) and the face step before a first password the
    accounts feature asks (``CLAIM_STEP``)."""
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.accounts.views import CLAIM_STEP
    from examsvc.attempts.operations import ENTRY_GATE
    from examsvc.camera import cli, events, openapi, views  # events registers on import
    from examsvc.camera.analysis import requeue, requeue_interval  # local import: as above
    from examsvc.camera.retention import purge_interval, scheduled_purge  # local import: as above

    app.extensions[ENTRY_GATE] = views.entry_gate
    app.extensions[CLAIM_STEP] = views.claim_step
    warm.add(app, events.warm)
    app.cli.add_command(cli.faces)
    app.cli.add_command(cli.snapshots)
    if not any(job.name == "snapshot-purge" for job in JOBS):
        every("snapshot-purge", purge_interval)(scheduled_purge)
    if not any(job.name == "snapshot-requeue" for job in JOBS):
        every("snapshot-requeue", requeue_interval)(requeue)
    app.register_blueprint(views.bp)
    add_part(app, openapi.PART)
