"""The Socket.IO message queue (``EXAMSVC_REDIS_URL``) has the face queue's timeouts: an
emit, from a web process or from the RQ face worker, to a Redis that accepts and never
answers gives up after ``EXAMSVC_REDIS_TIMEOUT`` (tried once more at once) instead of
holding its greenlet; the listener, which waits on an idle channel on purpose, stays
subscribed past that timeout, pinging Redis when the channel is silent
(``EXAMSVC_REDIS_PING_SECONDS``), and a Redis that stops answering (paused: its connection
open, nothing said) is noticed within the ping's interval plus the timeout and subscribed
to again once it answers."""

from __future__ import annotations

import logging
import queue
import time
from typing import Any

import pytest
import socketio
from redis import Redis

from examsvc import create_app
from examsvc.extensions import CHANNEL, message_queue
from tests.camera.test_snapshots import silent_redis
from tests.conftest import REDIS_URL
from tests.faults.conftest import poll
from tests.redis_server import own_redis

TIMEOUT = 0.2
PING = 0.3  # the listener's ping after this much silence: it notices within PING + TIMEOUT
# Two tries of TIMEOUT each: a generous bound, far below a hang (pytest-timeout's 60 s).
GIVES_UP_WITHIN = 5.0


@pytest.mark.timeout(60)  # a hang fails the test (pytest-timeout), it does not stall the run
def test_a_web_process_s_emit_gives_up_on_a_redis_that_never_answers(
    migrated_database, tmp_path, caplog
):
    from examsvc.extensions import socketio as extension

    with silent_redis() as url:
        create_app(
            {
                "TESTING": True,
                "DATABASE_URL": migrated_database,
                "DATA_DIR": str(tmp_path),
                "REDIS_URL": url,
                "REDIS_CONNECT_TIMEOUT": TIMEOUT,
                "REDIS_TIMEOUT": TIMEOUT,
            }
        )
        manager = extension.server.manager
        assert isinstance(manager, socketio.RedisManager) and not manager.write_only
        assert manager.channel == CHANNEL
        started = time.monotonic()
        with caplog.at_level(logging.ERROR):
            extension.emit("attempt_changed", {"id": 1}, to="wall", namespace="/invigilation")
        assert time.monotonic() - started < GIVES_UP_WITHIN
        assert "Cannot publish to redis... giving up" in caplog.text


@pytest.mark.timeout(60)
def test_the_face_worker_s_emit_gives_up_on_a_redis_that_never_answers(monkeypatch, caplog):
    from examsvc.camera import faces

    with silent_redis() as url:
        monkeypatch.setenv("EXAMSVC_REDIS_URL", url)
        monkeypatch.setenv("EXAMSVC_REDIS_CONNECT_TIMEOUT", str(TIMEOUT))
        monkeypatch.setenv("EXAMSVC_REDIS_TIMEOUT", str(TIMEOUT))
        try:
            started = time.monotonic()
            with caplog.at_level(logging.ERROR):
                faces.emit_result(
                    "job-1",
                    {"event": "face_result", "room": "user:1", "namespace": "/exam"},
                    {"ok": True},
                )
            assert time.monotonic() - started < GIVES_UP_WITHIN
            assert "Cannot publish to redis... giving up" in caplog.text
            manager = faces._emitter(url, TIMEOUT, TIMEOUT).server.manager
            assert manager.write_only and manager.channel == CHANNEL
            options = manager.redis_options
            assert (options["socket_connect_timeout"], options["socket_timeout"]) == (
                TIMEOUT,
                TIMEOUT,
            )
        finally:
            faces._emitter.cache_clear()


def subscribers(redis: Redis) -> int:
    counts: list[tuple[bytes, int]] = redis.pubsub_numsub(CHANNEL)  # type: ignore[assignment]
    return dict(counts)[CHANNEL.encode()]


@pytest.mark.redis
@pytest.mark.timeout(60)
def test_the_listener_stays_subscribed_on_an_idle_channel_past_the_timeout(redis: Redis, caplog):
    """A read timeout on the listener would drop it after TIMEOUT of silence, log "Cannot
    receive from redis", sleep a second and subscribe again, losing what was published
    meanwhile; its pings (every PING of silence, answered) do not. Its thread is a daemon
    that stays subscribed until the test run ends."""
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    listener = message_queue(
        REDIS_URL, write_only=False, connect_timeout=TIMEOUT, timeout=TIMEOUT, ping_every=PING
    )
    socketio.Server(async_mode="threading", client_manager=listener)
    listener._handle_emit = received.put  # what the listener hands on to this process's rooms
    with caplog.at_level(logging.ERROR):
        before = subscribers(redis)
        listener.initialize()
        deadline = time.monotonic() + 10
        while subscribers(redis) <= before:
            assert time.monotonic() < deadline, "the listener did not subscribe"
            time.sleep(0.02)  # the subscription is another thread's work: poll, bounded
        time.sleep(5 * TIMEOUT)  # the point of the test: the channel stays idle this long
        emitter = message_queue(REDIS_URL, write_only=True, connect_timeout=1, timeout=1)
        emitter.emit("face_result", {"ok": True}, namespace="/exam", room="user:1")
        # Tests running beside this one publish on the same channel (cards, to their
        # sessions' rooms): this emit is the one looked for, the others are passed over.
        deadline = time.monotonic() + 10
        while (message := received.get(timeout=10))["event"] != "face_result":
            assert time.monotonic() < deadline, "this emit never reached the listener"
    assert (message["event"], message["room"]) == ("face_result", "user:1")
    assert "Cannot receive from redis" not in caplog.text


def listening(
    url: str, logger: logging.Logger
) -> tuple[socketio.RedisManager, queue.Queue[dict[str, Any]]]:
    """A listening message queue on ``url``, logging to ``logger``, and what it hands on to
    this process's rooms."""
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    listener = message_queue(
        url, write_only=False, connect_timeout=TIMEOUT, timeout=TIMEOUT, ping_every=PING
    )
    socketio.Server(async_mode="threading", client_manager=listener, logger=logger)
    listener._handle_emit = received.put
    return listener, received


# Far above PING + TIMEOUT (the bound), far below what a silent connection costs without
# the pings: TCP never notices a paused server (its kernel acknowledges everything), and a
# cut-off one only after minutes of retransmissions.
NOTICED_WITHIN = 5.0
RECOVERED_WITHIN = 10.0  # python-socketio subscribes again 1 s after the first failure


@pytest.mark.timeout(60)
def test_the_listener_notices_a_paused_redis_and_subscribes_again_when_it_answers(tmp_path, caplog):
    # Its thread cannot be stopped: after the test it retries the dead server (every minute
    # at most), into a logger silenced then.
    logger = logging.getLogger("tests.listener.paused")
    with own_redis(tmp_path) as server:
        listener, received = listening(server.url, logger)
        emitter = message_queue(server.url, write_only=True, connect_timeout=1, timeout=1)
        watcher = Redis.from_url(server.url)
        try:
            with caplog.at_level(logging.ERROR):
                listener.initialize()
                poll(lambda: subscribers(watcher) == 1, timeout=10, what="subscribed")
                emitter.emit("face_result", {"n": 1}, namespace="/exam", room="user:1")
                assert received.get(timeout=10)["data"] == [{"n": 1}]
                assert "Cannot receive from redis" not in caplog.text

                server.pause()  # SIGSTOP: the connection stays open, nothing answers
                paused = time.monotonic()
                poll(
                    lambda: "Cannot receive from redis" in caplog.text,
                    timeout=NOTICED_WITHIN,
                    what="the listener notices the silent Redis",
                )
                # Not before its ping had time to go unanswered.
                assert time.monotonic() - paused >= PING + TIMEOUT
                assert any(
                    "did not answer a PING" in getattr(r, "redis_exception", "")
                    for r in caplog.records
                )

                server.resume()
                resumed = time.monotonic()

                def delivered() -> bool:  # published until one gets through again
                    emitter.emit("face_result", {"n": 2}, namespace="/exam", room="user:1")
                    try:
                        return received.get(timeout=0.2)["data"] == [{"n": 2}]
                    except queue.Empty:
                        return False

                poll(delivered, timeout=RECOVERED_WITHIN, what="delivered again")
            assert time.monotonic() - resumed < RECOVERED_WITHIN
            # One subscription: the dropped connection was closed, not left behind.
            poll(lambda: subscribers(watcher) == 1, timeout=10, what="one subscriber")
        finally:
            watcher.close()
            logger.disabled = True
