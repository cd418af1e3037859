"""The application factory."""

from __future__ import annotations

import importlib
import importlib.resources
import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, request

import examsvc.models  # noqa: F401  (every table known to SQLAlchemy and Alembic)
from examsvc import commands, logs, metrics, uow
from examsvc.clock import SystemClock
from examsvc.config import ConfigError, demo_secret_key, load_settings
from examsvc.db import SQLITE_SYNCHRONOUS, sqlite_synchronous
from examsvc.extensions import PING_IDLE, csrf, db, message_queue, migrate, socketio
from examsvc.web import inputs

ROOT = Path(__file__).resolve().parent.parent
# Run from a checkout (or an editable install of one): templates/ and migrations/ are at the
# top. Installed from a wheel they are inside the package (setup.py maps them there).
CHECKOUT = (ROOT / "pyproject.toml").is_file()


def shipped(folder: str) -> Path:
    """The top-level ``folder`` (templates, migrations) of the checkout or of the wheel."""
    if CHECKOUT:
        return ROOT / folder
    path = importlib.resources.files("examsvc") / f"_{folder}"
    if not isinstance(path, Path):  # Jinja and Alembic read real files
        raise RuntimeError("examsvc must be installed as files, not run from a zip archive")
    return path


# Each feature package exposes init_app(app): blueprints, socket events, commands.
FEATURES = (
    "web",
    "accounts",
    "roster",
    "banks",
    "papers",
    "invigilation",
    "attempts",
    "camera",
    "admission",
    "results",
    "statistics",
    "study",
    "audit",
    "admin",
    "demo",
)


class ExamApp(Flask):
    """Flask, with each request one unit of work (``examsvc.uow``)."""

    def dispatch_request(self) -> Any:
        rule = request.url_rule
        view = self.view_functions.get(rule.endpoint) if rule is not None else None
        return uow.dispatch(super().dispatch_request, uow.attempts_of(view))


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = ExamApp(
        __name__,
        # Installed, Flask's own default: <prefix>/var/examsvc.app-instance.
        instance_path=os.environ.get("EXAMSVC_INSTANCE_PATH")
        or (str(ROOT / "instance") if CHECKOUT else None),
        template_folder=str(shipped("templates")),
        static_folder="static",
    )
    inputs.init_app(app)  # before any route: the URL converters and the JSON reader
    app.config.from_mapping(load_settings(os.environ, Path(app.instance_path)))
    if test_config:
        app.config.update(test_config)
    _finish_config(app)

    app.extensions["examsvc.clock"] = app.config.pop("CLOCK", None) or SystemClock()
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            sqlite_synchronous(engine, app.config["SQLITE_SYNCHRONOUS"])
    migrate.init_app(app, db, directory=str(shipped("migrations")), render_as_batch=True)
    # Before CSRF's check: a refused request has its request id and its latency too.
    logs.init_app(app)
    metrics.init_app(app)
    csrf.init_app(app)
    redis_url = app.config["REDIS_URL"]
    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"],
        # Given every time (None: in memory, one process): the extension object outlives
        # an app, and would keep the previous app's message queue.
        client_manager=message_queue(
            redis_url,
            write_only=False,
            connect_timeout=float(app.config["REDIS_CONNECT_TIMEOUT"]),
            timeout=float(app.config["REDIS_TIMEOUT"]),
            ping_every=float(app.config["REDIS_PING_SECONDS"]),
        )
        if redis_url
        else None,
        # The page's own origin and EXAMSVC_ALLOWED_ORIGINS (an empty list would allow any).
        cors_allowed_origins=inputs.origin_check(app.config["ALLOWED_ORIGINS"]),
        serializer=inputs.SocketPacket,
        json=inputs.SocketJSON,  # Engine.IO's packets too
        ping_interval=20,
        ping_timeout=20,
        max_http_buffer_size=2 * 1024 * 1024,
        manage_session=False,
    )
    _bound_websocket_messages(socketio.server.eio)
    commands.init_app(app)
    for name in FEATURES:
        module = importlib.import_module(f"examsvc.{name}")
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)
    return app


def _finish_config(app: Flask) -> None:
    config = app.config
    if not config.get("SECRET_KEY"):
        if not (config["DEMO_MODE"] or config.get("TESTING")):
            raise ConfigError("EXAMSVC_SECRET_KEY must be set (or EXAMSVC_DEMO_MODE=true)")
        config["SECRET_KEY"] = demo_secret_key(Path(app.instance_path))
    if config["DEMO_MODE"]:
        config["SESSION_COOKIE_SECURE"] = False  # the demo runs on plain http://localhost
    synchronous = str(config["SQLITE_SYNCHRONOUS"]).strip().upper()
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ConfigError(
            f"EXAMSVC_SQLITE_SYNCHRONOUS: expected one of {', '.join(SQLITE_SYNCHRONOUS)},"
            f" got {config['SQLITE_SYNCHRONOUS']!r}"
        )
    config["SQLITE_SYNCHRONOUS"] = synchronous
    url = config["DATABASE_URL"]
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    config["SQLALCHEMY_DATABASE_URI"] = url
    if isinstance(config["ALLOWED_ORIGINS"], str):
        config["ALLOWED_ORIGINS"] = inputs.allowed_origins(config["ALLOWED_ORIGINS"])
    # hide_parameters: a database error (logged) names its statement, never its values
    # (ID numbers, names, answers).
    # A pooled connection idle for PING_IDLE_SECONDS is pinged before use (a restarted
    # database); one used moments ago is not (``extensions.ping_when_idle``).
    engine_options: dict[str, Any] = {"hide_parameters": True, PING_IDLE: PING_IDLE_SECONDS}
    engine_options.update(_pool_options(config, url))
    if url.startswith("sqlite"):
        # Several workers and the sweeper share the file: wait for locks, don't fail.
        engine_options["connect_args"] = {"timeout": 30}
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options)
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["PERMANENT_SESSION_LIFETIME"] = 12 * 3600
    config["MAX_CONTENT_LENGTH"] = 20 * 1024 * 1024
    config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # an exam may run for hours
    Path(config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    logging.getLogger("examsvc").setLevel(logging.INFO)


# Seconds a pooled connection may sit unused before it is pinged on its next checkout: under
# an exam's load connections come back within milliseconds and are never pinged.
PING_IDLE_SECONDS = 10.0

# Per database: (pool_size, max_overflow, pool_timeout). PostgreSQL: a gevent process runs
# thousands of greenlets on one core, and the server's max_connections (100) is shared by
# every process; a save holds its connection for milliseconds, so a few suffice, and a
# request that cannot get one within 2 s is answered 503 busy (retry after) instead of
# queueing for SQLAlchemy's default 30 s (docs/operations.md, "Database connections").
# SQLite: connections are file handles, the file's lock is what queues: SQLAlchemy's own.
_POOL_DEFAULTS = {"postgresql": (10, 5, 2.0), "sqlite": (5, 10, 30.0)}


def _pool_options(config: Any, url: str) -> dict[str, Any]:
    """The connection pool's size, overflow and timeout: the settings, or the database's
    defaults (an in-memory SQLite has a single connection and no pool to size)."""
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    if dialect == "sqlite" and url in ("sqlite://", "sqlite:///:memory:"):
        return {}
    defaults = _POOL_DEFAULTS.get(dialect, _POOL_DEFAULTS["postgresql"])
    names = (
        ("pool_size", "DB_POOL_SIZE"),
        ("max_overflow", "DB_MAX_OVERFLOW"),
        ("pool_timeout", "DB_POOL_TIMEOUT"),
    )
    return {
        option: default if config[setting] is None else config[setting]
        for (option, setting), default in zip(names, defaults, strict=True)
    }


def _bound_websocket_messages(eio: Any) -> None:
    """Stop reading a WebSocket message at ``max_http_buffer_size`` (close 1009, "message
    too big"): Engine.IO's gevent driver does not pass the limit on to simple-websocket,
    which would otherwise take a message of any size into memory before Engine.IO refuses
    it."""
    base = eio._async.get("websocket")
    if base is None or getattr(base, "bounded", False):
        return
    limit = eio.max_http_buffer_size

    class Bounded(base):  # type: ignore[misc, valid-type]
        bounded = True

        def __init__(self, handler: Any, server: Any) -> None:
            super().__init__(handler, server)
            if isinstance(getattr(self, "server_args", None), dict):
                self.server_args["max_message_size"] = limit

    eio._async = {**eio._async, "websocket": Bounded}
