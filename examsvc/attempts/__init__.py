"""Taking an exam: attempts, answers, timing, submission."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from examsvc import jobs
    from examsvc.attempts import api, events, pages  # noqa: F401  (events registers on import)
    from examsvc.attempts.sweeper import sweep, sweep_command

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.add_url_rule("/api/v1/openapi.json", "openapi", api.openapi_json)
    app.cli.add_command(sweep_command, "attempts-sweep")
    if not any(job.name == "attempt-sweeper" for job in jobs.JOBS):
        jobs.every("attempt-sweeper", lambda app: 5)(sweep)
