"""The results' periodic jobs in ``examsvc serve``: delivering the outbox (unless the web
processes are told not to, ``EXAMSVC_RESULTS_DELIVER_IN_WEB``) and sweeping closed windows."""

from __future__ import annotations

from flask import Flask

from examsvc.clock import now
from examsvc.results import delivery, sweep

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
    import gevent  # local import: only `examsvc serve` runs jobs, after gevent's patching

    # SQLite does not yield to other greenlets: let them run between two batches.
    sweep.sweep(now, app.config["RESULTS_SWEEP_BATCH"], pause=lambda: gevent.sleep(0))
