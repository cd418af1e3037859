"""The candidate's camera, beside the exam: consent to face data, the device check and
entry face verification before an attempt, random snapshots and page events during it,
and the bridge to the face engine (``faces``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The socket events of snapshots and page events on the exam channel."""
    # local import: a feature's events load when the app is built, not with its models
    from examsvc.camera import events  # noqa: F401
