"""The candidate's camera, beside the exam: consent to face data, the device check and
entry face verification before an attempt, random snapshots and page events during it,
the bridge to the face engine (``faces``) and the images' retention (``retention``)."""

from __future__ import annotations

from flask import Flask

from examsvc.jobs import JOBS, every


def init_app(app: Flask) -> None:
    """Views and socket events arrive with the feature's pages (issue 11)."""
    # local import: a feature's commands load when the app is built, not with its models
    from examsvc.camera import cli
    from examsvc.camera.retention import purge_interval, scheduled_purge

    app.cli.add_command(cli.snapshots)
    if not any(job.name == "snapshot-purge" for job in JOBS):
        every("snapshot-purge", purge_interval)(scheduled_purge)
