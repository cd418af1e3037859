"""Papers, blueprints, paper assignment, exam windows."""

from __future__ import annotations

from flask import Flask

from examsvc import warm
from examsvc.web.openapi import add_part


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.papers import cli, openapi, operations, views

    app.register_blueprint(views.bp)
    warm.add(app, operations.warm)
    add_part(app, openapi.PART)
    app.cli.add_command(cli.papers)
    app.cli.add_command(cli.windows)
