"""examsvc: online proctored examinations for the periodic assessment of physicians.

Kept import-light on purpose: ``examsvc serve`` must patch the standard library with
gevent before Flask, SQLAlchemy or the database drivers are imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application (see :mod:`examsvc.app`)."""
    # local import: `import examsvc` stays light (gevent patches before Flask loads)
    from examsvc.app import create_app as _create_app

    return _create_app(test_config)
