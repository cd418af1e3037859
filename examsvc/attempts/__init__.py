"""Taking an exam: attempts, answers, timing, submission."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from examsvc.attempts import pages

    app.register_blueprint(pages.bp)
