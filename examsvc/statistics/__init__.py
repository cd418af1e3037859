"""Progress (考试进度) and statistics (考核统计) of a cycle, for the agency and the health
authority (read-only): figures counted by the database, drill-downs to the physicians behind
each number, the XLSX export of the view."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.statistics import views

    app.register_blueprint(views.bp)
