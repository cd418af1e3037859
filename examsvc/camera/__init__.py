"""The candidate's camera, beside the exam: consent to face data, the device check and
entry face verification before an attempt, random snapshots and page events during it,
and the bridge to the face engine (``faces``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Views and socket events (the gate before an attempt), the face calibration command
    and page, and the entry gate the attempts feature asks (``ENTRY_GATE``)."""
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.attempts.operations import ENTRY_GATE
    from examsvc.camera import cli, events, views  # noqa: F401  (events registers on import)

    app.extensions[ENTRY_GATE] = views.entry_gate
    app.cli.add_command(cli.faces)
    app.register_blueprint(views.bp)
