"""The RQ face worker's side of snapshots (``EXAMSVC_REDIS_URL`` set): the ``on_result`` hook
that records a snapshot's decision in the database, in a unit of work, and sends
``attempt_changed`` (the invigilation feature, loaded with the app, pushes the wall's row
through the Redis message queue the web processes share: the changes of
``CARD_PUSH_SECONDS`` together, from a thread, as a web process pushes its own).

The worker process opens one application (``create_app``, from its ``EXAMSVC_*``
environment) on first use and keeps it. This module is at the package's top, not in
``camera``, because it builds the app, which no feature may import.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Flask

from examsvc import uow
from examsvc.app import create_app
from examsvc.camera import operations
from examsvc.camera.models import SnapshotStatus
from examsvc.clock import now
from examsvc.extensions import db
from examsvc.invigilation import live


@cache
def _app() -> Flask:
    app = create_app()
    # The cards its decisions change are pushed together every CARD_PUSH_SECONDS from a
    # thread, as a web process pushes its own, instead of a card read and push in every
    # job (issue #14: docs/benchmarks.md, "The RQ face workers' throughput").
    live.start_threaded(app)
    return app


def record_result(job_id: str | None, meta: dict[str, Any], result: dict[str, Any]) -> None:
    """``on_result`` hook of a snapshot job: its status, flags and measurements."""
    snapshot_id = int(meta["snapshot_id"])
    with _app().app_context():
        try:
            if result.get("dropped"):
                uow.run(
                    lambda: operations.record_unanalysed(
                        snapshot_id, SnapshotStatus.SKIPPED, "Dropped", now=now()
                    )
                )
            else:
                uow.run(lambda: operations.record_analysis(snapshot_id, result, now=now()))
        finally:
            db.session.remove()
