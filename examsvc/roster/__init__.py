"""The roster: physicians approved for the exam, pulled from the registration system."""

from __future__ import annotations

from flask import Flask

from examsvc.jobs import JOBS, every
from examsvc.web.openapi import add_part


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.accounts.views import PHYSICIAN_SEARCH
    from examsvc.roster import cli, openapi, views
    from examsvc.roster.jobs import pull_interval, scheduled_pull
    from examsvc.roster.queries import search_physicians

    app.extensions[PHYSICIAN_SEARCH] = search_physicians
    app.register_blueprint(views.bp)
    add_part(app, openapi.PART)
    app.cli.add_command(cli.roster)
    if not any(job.name == "roster-pull" for job in JOBS):
        every("roster-pull", pull_interval)(scheduled_pull)
