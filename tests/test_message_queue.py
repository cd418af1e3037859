"""The Socket.IO message queue (``EXAMSVC_REDIS_URL``) has the face queue's timeouts: an
emit, from a web process or from the RQ face worker, to a Redis that accepts and never
answers gives up after ``EXAMSVC_REDIS_TIMEOUT`` (tried once more at once) instead of
holding its greenlet; the listener, which waits on an idle channel on purpose, stays
subscribed past that timeout."""

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

TIMEOUT = 0.2
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
    meanwhile. Its thread is a daemon that stays subscribed until the test run ends."""
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    listener = message_queue(REDIS_URL, write_only=False, connect_timeout=TIMEOUT, timeout=TIMEOUT)
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
        message = received.get(timeout=10)
    assert (message["event"], message["room"]) == ("face_result", "user:1")
    assert "Cannot receive from redis" not in caplog.text
