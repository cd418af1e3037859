"""Papers, blueprints, paper assignment, exam windows."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.papers import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.papers)
    app.cli.add_command(cli.windows)
