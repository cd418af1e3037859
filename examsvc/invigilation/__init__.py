"""Invigilation: test sites, exam sessions, the invigilators and candidates of each session
(and the invigilators' wall to come)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.invigilation import seen, views  # noqa: F401  (seen: socket events)

    app.register_blueprint(views.bp)
