"""Taking an exam: attempts, answers, timing, submission."""

from __future__ import annotations

from flask import Flask

from examsvc import warm
from examsvc.jobs import JOBS, every
from examsvc.web.openapi import add_part


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.attempts import api, events, openapi, pages, queries, throttle, views  # noqa: F401  (events registers on import)
    from examsvc.attempts.sweeper import sweep, sweep_command
    from examsvc.roster.queries import ATTEMPT_RECORDS, OVERRIDES, PROGRESS

    app.extensions[PROGRESS] = queries.progress
    app.extensions[ATTEMPT_RECORDS] = queries.attempt_records
    app.extensions[OVERRIDES] = queries.override_rows
    throttle.init_app(app)
    warm.add(app, api.warm)
    app.register_blueprint(pages.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    add_part(app, openapi.PART)
    app.cli.add_command(sweep_command, "attempts-sweep")
    if not any(job.name == "attempt-sweeper" for job in JOBS):
        every("attempt-sweeper", lambda app: 5)(sweep)
