"""Invigilation: test sites, exam sessions, the invigilators and candidates of each session;
the invigilators' live wall, a candidate's timeline and the invigilators' actions."""

from __future__ import annotations

from flask import Flask

from examsvc.signals import attempt_changed


def init_app(app: Flask) -> None:
    # local import: a feature's views and socket events load when the app is built
    from examsvc.invigilation import events, live, views  # noqa: F401  (events register on import)

    app.register_blueprint(views.bp)
    # Weak by default; the module-level function lives as long as the module.
    attempt_changed.connect(live.attempt_changed)
