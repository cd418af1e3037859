"""The candidate's camera, beside the exam: consent to face data, the device check and
entry face verification before an attempt, random snapshots and page events during it,
and the bridge to the face engine (``faces``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Views and socket events arrive with the feature's pages (issue 11); the face
    calibration command and page with issue 12."""
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.camera import cli, views

    app.cli.add_command(cli.faces)
    app.register_blueprint(views.bp)
