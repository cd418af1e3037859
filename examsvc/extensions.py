"""Extensions created here and bound to the app in the factory."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from socketio import RedisManager
from sqlalchemy import MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that migrations can address them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


PING_IDLE = "ping_idle_seconds"
"""An engine option of ours (not ``create_engine``'s): see :func:`ping_when_idle`."""


class _SQLAlchemy(SQLAlchemy):
    def _make_engine(self, bind_key: str | None, options: dict[str, Any], app: Any) -> sa.Engine:
        """``create_engine`` itself: Flask-SQLAlchemy's ``engine_from_config`` would read
        ``pool_timeout`` as a whole number (``EXAMSVC_DB_POOL_TIMEOUT=0.5`` would become 0)."""
        options = dict(options)
        idle = options.pop(PING_IDLE, None)
        engine = sa.create_engine(options.pop("url"), **options)
        if idle is not None:
            ping_when_idle(engine, float(idle))
        return engine


_USED_AT = "examsvc.used_at"  # a pooled connection's record: when it was last connected or used


def ping_when_idle(
    engine: sa.Engine, idle_seconds: float, clock: Callable[[], float] = time.monotonic
) -> None:
    """``pool_pre_ping``, but only for a connection idle longer than ``idle_seconds``.

    A pre-ping on every checkout is a round trip per socket event (each is its own unit
    and checks a connection out again): a third of a save's CPU on PostgreSQL. A connection
    used moments ago is not pinged; one that sat in the pool (a restart, a firewall's idle
    cut) is, and a dead one is replaced — and, as with pre-ping, every connection pooled
    before it (``InvalidatePoolError``). A connection cut in the few seconds after its last
    use fails its statement instead: the database error invalidates the pool, the request
    is answered 503 ``database_unavailable`` (``web.errors.database_trouble``) and its
    retry gets a new connection."""

    @event.listens_for(engine, "connect")
    def connected(dbapi_connection: Any, record: Any) -> None:
        record.info[_USED_AT] = clock()

    @event.listens_for(engine, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_USED_AT] = clock()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        used_at = record.info.get(_USED_AT)
        if used_at is not None and clock() - used_at < idle_seconds:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_connection, None):
                raise sa_exc.InvalidatePoolError(str(err)) from err
            raise


db = _SQLAlchemy(model_class=Base)
migrate = Migrate()
socketio = SocketIO()
csrf = CSRFProtect()

CHANNEL = "flask-socketio"
"""The message queue's channel: Flask-SocketIO's default, so that every process (and any
``SocketIO(message_queue=...)`` emitting beside ours) reads and writes the same one."""


class _RedisQueue(RedisManager):
    """python-socketio's Redis message queue: it publishes (an emit) with the timeouts of
    ``redis_options``, and listens with the connect timeout only: the listener waits on an
    idle channel on purpose, and a read timeout there would drop and re-subscribe it every
    few seconds (logging an error each time)."""

    def _redis_connect(self) -> None:
        super()._redis_connect()
        listening = {
            key: value
            for key, value in self.redis_options.items()
            if key not in ("socket_timeout", "retry")
        }
        self.pubsub = Redis.from_url(self.redis_url, **listening).pubsub(
            ignore_subscribe_messages=True
        )


def message_queue(
    url: str, *, write_only: bool, connect_timeout: float, timeout: float
) -> RedisManager:
    """The Socket.IO message queue on the Redis at ``url`` (``write_only``: a process that
    only emits). An emit to a Redis that cannot be reached within ``connect_timeout`` or does
    not answer within ``timeout`` gives up (tried once more at once by python-socketio,
    which logs "Cannot publish to redis... giving up"): the event is lost, the emitting
    greenlet goes on instead of hanging."""
    return _RedisQueue(
        url,
        channel=CHANNEL,
        write_only=write_only,
        redis_options={
            "socket_connect_timeout": connect_timeout,
            "socket_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),  # python-socketio's own second try is the retry
        },
    )


if TYPE_CHECKING:  # mypy cannot see db.Model's dynamic base
    Model = Base
else:
    Model = db.Model


def table(name: str) -> sa.Table:
    """The table ``name`` of a feature above the caller, for a query that reads it.

    A feature never imports a feature above it (tests/test_imports.py): papers count the
    attempts of a paper, banks name the papers that draw from a bank, through the table
    (every model is registered by ``examsvc.models`` when the app is built)."""
    return db.metadata.tables[name]
