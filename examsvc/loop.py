"""The event loop's health in a serving process.

One gevent process serves every connected candidate on one loop: whatever stops the loop
delays every acknowledgement at once. Two such stops are measured here, and the larger one
is removed:

- Python's cyclic garbage collector stops the loop for each collection, and a full one
  walks every object in the process. The app, its modules and their caches are about
  220,000 objects, 80–90 ms a walk on this project's machine; a window opening for a
  thousand candidates makes enough new objects to trigger several. ``start`` freezes what
  exists once the app is built (``gc.freeze``): the collector never walks it again.
  Reference counting still frees those objects as before.
- ``examsvc_loop_lag_seconds``: how late a timer fired, observed every ``LAG_EVERY``
  seconds; ``examsvc_gc_pause_seconds`` by generation.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import gevent

from examsvc.metrics import GC_PAUSE_SECONDS, LOOP_LAG_SECONDS

LAG_EVERY = 0.5  # seconds between two lag readings


# Young collections every 20,000 net allocations instead of 700: a request's objects die
# before one runs instead of being promoted, so the oldest generation grows, and is walked,
# far less often. Each young collection walks at most that many objects (a few ms).
THRESHOLDS = (20_000, 20, 20)


def start() -> gevent.Greenlet:
    """In a serving process, once its app is built and before it serves; the greenlet
    that reads the lag."""
    # Every greenlet would keep the stack that spawned it (ten frame records), and every
    # Socket.IO event spawns one: work and objects for a debugging aid.
    gevent.config.track_greenlet_tree = False
    gc.set_threshold(*THRESHOLDS)
    freeze()
    return gevent.spawn(watch_lag)


def freeze() -> None:
    """Leave what exists now out of every later collection, and time the collections."""
    gc.collect()
    gc.freeze()
    if _time_collections not in gc.callbacks:
        gc.callbacks.append(_time_collections)


_collection_started = 0.0


def _time_collections(phase: str, info: dict[str, Any]) -> None:
    global _collection_started
    if phase == "start":
        _collection_started = time.perf_counter()
    else:
        pause = time.perf_counter() - _collection_started
        GC_PAUSE_SECONDS.labels(str(info["generation"])).observe(pause)


def watch_lag(
    every: float = LAG_EVERY,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = gevent.sleep,
    observe: Callable[[float], None] = LOOP_LAG_SECONDS.observe,
    rounds: int | None = None,
) -> None:
    """Sleep ``every`` seconds, observe how much later than that the loop woke us; for
    ``rounds`` readings (forever by default)."""
    done = 0
    while rounds is None or done < rounds:
        asleep_at = monotonic()
        sleep(every)
        observe(max(0.0, monotonic() - asleep_at - every))
        done += 1
