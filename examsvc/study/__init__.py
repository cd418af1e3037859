"""Study mode (我要学习): practice sets and 背题 from the banks the agency opened for study,
unproctored, never counted, and closed while the physician sits an attempt."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.study import views

    app.register_blueprint(views.bp)
