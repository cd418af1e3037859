"""The results' periodic jobs in ``examsvc serve``: delivering the outbox (unless the web
processes are told not to, ``EXAMSVC_RESULTS_DELIVER_IN_WEB``; network waits, little CPU)
and sweeping closed windows (in a child process, like the roster's pull)."""

from __future__ import annotations

import subprocess
import sys

from flask import Flask

from examsvc.clock import now
from examsvc.results import delivery, sweep
from examsvc.roster.jobs import child_env
from examsvc.uow import end_reads

DELIVERY_BATCH = 200  # rows one run of the job tries before it sleeps again


def delivery_interval(app: Flask) -> float:
    config = app.config
    if not (config["RESULTS_DELIVER_IN_WEB"] and delivery.registry_client(config)):
        return 0
    return float(config["RESULTS_DELIVERY_INTERVAL"])


def scheduled_delivery(app: Flask) -> None:
    client = delivery.registry_client(app.config)
    if client is not None:
        delivery.deliver(
            client,
            now,
            lease_seconds=app.config["RESULTS_LEASE_SECONDS"],
            limit=DELIVERY_BATCH,
        )


def sweep_interval(app: Flask) -> float:
    return float(app.config["RESULTS_SWEEP_INTERVAL"])


def scheduled_sweep(app: Flask) -> None:
    """``examsvc results sweep`` in a child process, waited for without blocking other
    greenlets: computing thousands of verdicts is CPU work, kept off the web loop. Started
    only when a window is due (one query here)."""
    if not sweep.closed_windows(now()):
        return
    end_reads()  # no transaction held while the child works
    subprocess.run(
        [
            sys.executable,
            "-m",
            "examsvc.cli",
            "results",
            "sweep",
            "--batch",
            str(app.config["RESULTS_SWEEP_BATCH"]),
        ],
        env=child_env(app),
        stdout=subprocess.DEVNULL,
        check=True,
    )
