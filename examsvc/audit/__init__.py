"""The audit log."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from examsvc.audit import views

    app.register_blueprint(views.bp)
