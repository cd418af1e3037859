"""Before a serving process serves: what its first candidates would otherwise pay.

The first start of a process cost 30–150 ms more than the next ones, the first exam page
25 ms more (docs/benchmarks.md, "The way to ready"): SQLAlchemy compiled each statement at
its first use (then kept in the engine's cache), the papers' candidate lists were read
(kept per bank version), Jinja compiled the templates, Babel read its catalogs. ``warm``
does that once, after the app is built and before ``loop.start`` freezes what exists, so
what it builds is frozen with the rest. Each feature adds what its own hot paths use
(``add``): their reads, run with ids that no row has, in a transaction rolled back; the
papers of the windows not yet closed get their candidate lists read. Nothing is written. A
step that fails (the database down at start) is logged and the process serves all the same:
its first requests then pay, as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

from flask import Flask

from examsvc import uow
from examsvc.clock import now
from examsvc.extensions import db

WARMERS = "examsvc.warmers"
log = logging.getLogger(__name__)


def add(app: Flask, warmer: Callable[[datetime], object]) -> None:
    """Run ``warmer(now)`` in ``warm``, in an app context (its reads rolled back)."""
    app.extensions.setdefault(WARMERS, []).append(warmer)


def warm(app: Flask) -> float:
    """Every feature's warmer, once; the seconds it took."""
    started = time.perf_counter()
    with app.app_context():
        warmers: list[Callable[[datetime], object]] = app.extensions.get(WARMERS, [])
        for warmer in warmers:
            try:
                uow.dry_run(partial(_run, warmer))
            except Exception:  # the first requests pay instead: never a reason not to serve
                log.warning("warm-up step %s failed", warmer.__qualname__, exc_info=True)
        db.session.remove()
    spent = time.perf_counter() - started
    log.info("warmed up in %.0f ms", spent * 1000)
    return spent


def _run(warmer: Callable[[datetime], object]) -> None:
    warmer(now())
