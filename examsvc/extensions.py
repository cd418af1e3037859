"""Extensions created here and bound to the app in the factory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from redis import ConnectionPool
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from socketio import RedisManager
from sqlalchemy import MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase

from examsvc.config import read_setting

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


class _Listening(PubSub):
    """redis-py's subscription, whose ``listen`` notices a Redis gone silent.

    A subscription waits on an idle channel on purpose, so a read timeout cannot tell a
    quiet channel from a dead server; and a Redis paused (``SIGSTOP``, ``DEBUG SLEEP``) or
    cut off without its connection closing never says so: the kernel still acknowledges
    what is sent, so TCP keepalive does not notice either, and redis-py's own
    ``health_check_interval`` only *sends* its PING (before a blocking read, which on an
    idle channel never comes) and never waits for the answer. So: after ``ping_every``
    seconds without a byte from Redis, one PING on the subscription; no answer (its PONG, or
    any message) within ``answer_within`` seconds raises ``TimeoutError``, and
    python-socketio's listener subscribes again on a new connection (after 1, 2, 4 … 60 s,
    logging ``Cannot receive from redis``). A silent Redis is noticed within
    ``ping_every + answer_within`` of its last word."""

    def __init__(self, pool: ConnectionPool, *, ping_every: float, answer_within: float) -> None:
        super().__init__(pool, ignore_subscribe_messages=True)
        self.ping_every = ping_every
        self.answer_within = answer_within

    def listen(self) -> Iterator[dict[str, Any]]:
        pinged: float | None = None  # when the PING not answered yet went out
        while self.subscribed:
            if pinged is None:
                wait = self.ping_every
            else:
                wait = pinged + self.answer_within - time.monotonic()
                if wait <= 0:
                    self.reset()  # the connection closed, not left to the collector
                    raise RedisTimeoutError(
                        f"Redis did not answer a PING within {self.answer_within} s"
                    )
            response = self.parse_response(block=False, timeout=wait)  # None: nothing came
            if response is None:
                if pinged is None:
                    self.ping()
                    pinged = time.monotonic()
                continue
            pinged = None  # Redis spoke: it is there
            message = self.handle_message(response)
            if message is not None and message["type"] != "pong":
                yield message


class _RedisQueue(RedisManager):
    """python-socketio's Redis message queue: it publishes (an emit) with the timeouts of
    ``redis_options``, and listens on a subscription (:class:`_Listening`, on the same
    connection pool, so with the same timeouts: a read only starts once Redis has sent
    something) that pings a silent Redis every ``ping_every`` seconds and gives up on one
    that does not answer within the read timeout."""

    def __init__(self, url: str, *, ping_every: float, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.ping_every = ping_every

    def _redis_connect(self) -> None:
        super()._redis_connect()
        self.pubsub = _Listening(
            self.redis.connection_pool,
            ping_every=self.ping_every,
            answer_within=float(self.redis_options["socket_timeout"]),
        )


def message_queue(
    url: str,
    *,
    write_only: bool,
    connect_timeout: float,
    timeout: float,
    ping_every: float | None = None,
) -> RedisManager:
    """The Socket.IO message queue on the Redis at ``url`` (``write_only``: a process that
    only emits). An emit to a Redis that cannot be reached within ``connect_timeout`` or does
    not answer within ``timeout`` gives up (tried once more at once by python-socketio,
    which logs "Cannot publish to redis... giving up"): the event is lost, the emitting
    greenlet goes on instead of hanging. The listener of a process that also receives
    notices a Redis gone silent within ``ping_every + timeout`` and subscribes again
    (:class:`_Listening`; ``ping_every`` by default ``EXAMSVC_REDIS_PING_SECONDS``'s)."""
    return _RedisQueue(
        url,
        channel=CHANNEL,
        write_only=write_only,
        ping_every=read_setting({}, "REDIS_PING_SECONDS") if ping_every is None else ping_every,
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
