"""Results: the result notice (``views.py`` serves it, ``notice.py`` renders the PDF); the
verdicts and the write-back outbox to come."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.results import views

    app.register_blueprint(views.bp)
