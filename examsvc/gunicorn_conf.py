"""gunicorn settings for examsvc (``-c python:examsvc.gunicorn_conf``).

One worker per gunicorn: Socket.IO's long-polling needs every request of a client to reach
the same process, and gunicorn's balancing cannot promise it. Run one gunicorn per core,
each on its own port, behind nginx with ``ip_hash`` and ``EXAMSVC_REDIS_URL`` set so that
the processes share rooms (docs/deployment.md)."""

from __future__ import annotations

from typing import Any

worker_class = "gevent"
workers = 1
worker_connections = 4000  # candidates' sockets plus their requests
timeout = 60
graceful_timeout = 30
control_socket_disable = True  # one gunicorn per core: they would share its default path


def post_worker_init(worker: Any) -> None:
    """Start what ``examsvc serve`` starts, in the worker (after the fork, never before)."""
    # local import: after gunicorn's gevent worker has patched the standard library
    from examsvc import jobs, offload
    from examsvc.camera import analysis, faces  # local import: as above

    app = worker.wsgi
    faces.start(app)
    offload.start(app)
    analysis.recover(app)
    jobs.start(app)


def worker_exit(server: Any, worker: Any) -> None:
    # local import: after the patching, as above
    from examsvc import jobs, offload
    from examsvc.camera import faces  # local import: as above

    jobs.stop(worker.wsgi)
    offload.stop()
    faces.stop()
