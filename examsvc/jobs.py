"""Background jobs of the web process: periodic tasks, each run by one process at a time.

Features register jobs with :func:`every`; ``examsvc serve`` starts them in greenlets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from examsvc.uow import unit_of_work

log = logging.getLogger("examsvc.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    interval: Callable[[Flask], float]  # seconds; 0 or less: disabled
    run: Callable[[Flask], Any]


JOBS: list[Job] = []
_RUNNING: dict[int, list[Any]] = {}


def every(
    name: str, interval: Callable[[Flask], float]
) -> Callable[[Callable[[Flask], Any]], Callable[[Flask], Any]]:
    """Register ``fn(app)`` to run every ``interval(app)`` seconds in ``examsvc serve``."""

    def decorator(fn: Callable[[Flask], Any]) -> Callable[[Flask], Any]:
        JOBS.append(Job(name, interval, fn))
        return fn

    return decorator


def _loop(app: Flask, job: Job) -> None:
    import gevent  # local import: only `examsvc serve` runs jobs, after gevent's patching

    seconds = job.interval(app)
    while True:
        try:
            with app.app_context(), unit_of_work():
                job.run(app)
        except Exception:  # a failing job must not stop the others or the server
            log.exception("job %s failed", job.name)
        gevent.sleep(seconds)


def start(app: Flask) -> None:
    import gevent  # local import: only `examsvc serve` runs jobs, after gevent's patching

    greenlets = []
    for job in JOBS:
        if job.interval(app) > 0:
            greenlets.append(gevent.spawn(_loop, app, job))
            log.info("job %s every %ss", job.name, job.interval(app))
    _RUNNING[id(app)] = greenlets


def stop(app: Flask) -> None:
    import gevent  # local import: only `examsvc serve` runs jobs, after gevent's patching

    gevent.killall(_RUNNING.pop(id(app), []))
