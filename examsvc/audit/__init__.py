"""The audit log: ``operations.record`` adds an event (every feature writes here); the
page that reads the log is in the back office (``examsvc.admin.audit``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing to register: the log's page is in the back office."""
