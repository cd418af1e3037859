"""The roster: physicians approved for the exam, pulled from the registration system."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from examsvc import jobs
    from examsvc.roster import cli, views
    from examsvc.roster.jobs import pull_interval, scheduled_pull

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.roster)
    if not any(job.name == "roster-pull" for job in jobs.JOBS):
        jobs.every("roster-pull", pull_interval)(scheduled_pull)
