"""Service-level commands: serve, and the background jobs loop."""

from __future__ import annotations

import signal

import click
import gevent
from flask import Flask, current_app
from flask.cli import with_appcontext
from gevent import pywsgi

from examsvc import drain, jobs, logs, loop, offload, warm
from examsvc.camera import analysis, faces
from examsvc.extensions import socketio
from examsvc.invigilation import live


class WebSocketClosingHandler(pywsgi.WSGIHandler):
    """pywsgi's handler, closing a connection once its WebSocket session has ended.

    Engine.IO's WebSocket under gevent (simple-websocket) runs the session on a duplicate
    of the connection's socket; when the session ends, pywsgi would keep the connection
    alive and read the next bytes on it as an HTTP request: the client's close frame,
    logged ``Invalid HTTP method: '\\x88\\x82…'`` and answered with a 400 written into a
    closing WebSocket (docs/operations.md, "What the log lines mean")."""

    def handle_one_response(self) -> None:
        super().handle_one_response()
        if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            self.close_connection = True


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-jobs", is_flag=True, help="Do not run the background jobs here.")
@with_appcontext
def serve(host: str, port: int, no_jobs: bool) -> None:
    """Run the web and Socket.IO server on gevent."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    logs.configure(app, default="json")

    faces.start(app)
    offload.start(app)
    live.start(app)
    analysis.recover(app)
    if not no_jobs:
        jobs.start(app)
    warm.warm(app)  # the first candidates do not pay for compiling and reading (examsvc.warm)
    loop.start()  # last: freezes what was built so far (examsvc.loop)
    # SIGTERM (systemd, a deploy): stop accepting, let the saves in flight finish within
    # the grace period, close the sockets (the clients reconnect elsewhere), then the pools
    # and jobs end, the database connections close, and the exit status is 0.
    main = gevent.getcurrent()
    grace = app.config["STOP_GRACE_SECONDS"]

    def stop_gracefully() -> None:
        if drain.draining():
            return
        drain.drain(getattr(socketio, "wsgi_server", None), socketio.server, grace)
        main.throw(SystemExit(0))

    gevent.signal_handler(signal.SIGTERM, lambda: gevent.spawn(stop_gracefully))
    click.echo(f"examsvc listening on http://{host}:{port}/")
    try:
        socketio.run(
            app,
            host=host,
            port=port,
            use_reloader=False,
            log_output=False,
            handler_class=WebSocketClosingHandler,
        )
    finally:
        jobs.stop(app)
        offload.stop()
        faces.stop()
        click.echo("examsvc stopped")


def init_app(app: Flask) -> None:
    app.cli.add_command(serve)
