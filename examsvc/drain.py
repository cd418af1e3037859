"""The graceful stop of ``examsvc serve`` (SIGTERM): stop accepting connections, let the
requests and socket events in flight (answer saves) finish within
``EXAMSVC_STOP_GRACE_SECONDS``, then close every Socket.IO connection at the Engine.IO
level — a "transport close", on which the browser's client reconnects by itself (through
the balancer, to another process) — and let the caller stop the pools.

An answer is acknowledged only after its unit of work committed, so whatever the stop
cuts short was never acknowledged: the candidate's journal sends it again."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("examsvc.drain")

_lock = threading.Lock()
_in_flight = 0
_draining = False


def draining() -> bool:
    return _draining


def in_flight() -> int:
    return _in_flight


@contextmanager
def tracked() -> Iterator[None]:
    """A request or socket event in flight: the stop waits for it."""
    global _in_flight
    with _lock:
        _in_flight += 1
    try:
        yield
    finally:
        with _lock:
            _in_flight -= 1


def enter() -> None:
    global _in_flight
    with _lock:
        _in_flight += 1


def leave() -> None:
    global _in_flight
    with _lock:
        _in_flight = max(0, _in_flight - 1)


def _wait_idle(deadline: float, sleep: Any) -> bool:
    while _in_flight and time.monotonic() < deadline:
        sleep(0.02)
    return not _in_flight


def drain(server: Any, socket_server: Any, grace: float) -> None:
    """Run in a greenlet of its own under ``serve``; returns when the process may stop."""
    import gevent  # local import: only under `examsvc serve`

    global _draining
    _draining = True  # /readyz answers down: the balancer stops sending new work here
    deadline = time.monotonic() + grace
    at_signal = _in_flight
    if server is not None:
        server.stop_accepting()
    settled = _wait_idle(deadline, gevent.sleep)
    sockets = len(socket_server.eio.sockets) if socket_server is not None else 0
    if socket_server is not None:
        socket_server.eio.disconnect()  # every client: "transport close", they reconnect
    settled = _wait_idle(deadline, gevent.sleep) and settled
    log.info(
        "stopping: %d in flight at the signal, %d sockets closed, %s",
        at_signal,
        sockets,
        "nothing in flight" if settled else f"{_in_flight} still in flight after the grace",
    )


def reset() -> None:
    """Tests: a fresh process state."""
    global _draining, _in_flight
    _draining, _in_flight = False, 0
