"""gunicorn settings for examsvc (``-c python:examsvc.gunicorn_conf``).

One worker per gunicorn: Socket.IO's long-polling needs every request of a client to reach
the same process, and gunicorn's balancing cannot promise it. Run one gunicorn per core,
each on its own port, behind nginx with ``ip_hash`` and ``EXAMSVC_REDIS_URL`` set so that
the processes share rooms (docs/deployment.md)."""

from __future__ import annotations

import os
import signal
from typing import Any

worker_class = "gevent"
workers = 1
worker_connections = 4000  # candidates' sockets plus their requests
# No preload_app: the app, and so its database pool (EXAMSVC_DB_POOL_SIZE +
# EXAMSVC_DB_MAX_OVERFLOW), is made in the worker after the fork, never shared with a parent.
# Each gunicorn counts once against PostgreSQL's max_connections (docs/operations.md).
timeout = 60
graceful_timeout = 30
control_socket_disable = True  # one gunicorn per core: they would share its default path


def post_worker_init(worker: Any) -> None:
    """Start what ``examsvc serve`` starts, in the worker (after the fork, never before)."""
    # local import: after gunicorn's gevent worker has patched the standard library
    from examsvc import jobs, logs, loop, offload, warm
    from examsvc.camera import analysis, faces  # local import: as above
    from examsvc.invigilation import live  # local import: as above

    app = worker.wsgi
    logs.configure(app, default="json")
    faces.start(app)
    offload.start(app)
    live.start(app)
    analysis.recover(app)
    jobs.start(app)
    _drain_on_sigterm(worker, app)
    warm.warm(app)  # the first candidates do not pay for compiling and reading (examsvc.warm)
    loop.start()  # last: freezes what was built so far (examsvc.loop)


def _drain_on_sigterm(worker: Any, app: Any) -> None:
    """SIGTERM as under ``examsvc serve`` (``examsvc.drain``): gunicorn stops accepting and
    waits for its handlers; the saves in flight finish, then the sockets are closed so that
    the browsers reconnect elsewhere instead of holding the worker for graceful_timeout."""
    import gevent  # local import: after gunicorn's gevent worker has patched the library

    from examsvc import drain  # local import: as above
    from examsvc.extensions import socketio  # local import: as above

    def stop() -> None:
        worker.alive = False  # gunicorn's loop closes its listeners within a second
        gevent.sleep(1.5)  # so that no client reconnects to this worker
        drain.drain(None, socketio.server, app.config["STOP_GRACE_SECONDS"])

    gevent.signal_handler(signal.SIGTERM, lambda: gevent.spawn(stop))


def worker_exit(server: Any, worker: Any) -> None:
    # local import: after the patching, as above
    from examsvc import jobs, offload
    from examsvc.camera import faces  # local import: as above

    jobs.stop(worker.wsgi)
    offload.stop()
    faces.stop()


def child_exit(server: Any, worker: Any) -> None:
    """With ``PROMETHEUS_MULTIPROC_DIR``: a dead worker's live gauges leave the sum."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # local import: only in that mode

        multiprocess.mark_process_dead(worker.pid)
