"""Study mode (我要学习): mock papers from the same banks, unproctored and never counted."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from examsvc.study import views

    app.register_blueprint(views.bp)
