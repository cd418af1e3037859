"""Results: the result notice (``views.py`` serves it, ``notice.py`` renders the PDF); the
write-back outbox (``models.py``) and the agency's reconciliation of it (``views.py``,
``queries.py``, ``reconcile.py``, ``export.py``, ``cli.py``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.results import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.results)
