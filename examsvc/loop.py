"""The event loop's health in a serving process.

One gevent process serves every connected candidate on one loop: whatever stops the loop
delays every acknowledgement at once. Python's cyclic garbage collector stops it for each
collection, and a full one walks every object in the process: about 220,000 once the app is
built (80–90 ms on this project's machine), 350,000 with 1,000 candidates in (170–290 ms),
and a window opening for a thousand candidates triggered 13 of them (docs/benchmarks.md,
"The event loop through a 1,000-candidate opening"). ``start`` therefore

- freezes what exists once the app is built (``gc.freeze``): the collector never walks it
  again; reference counting still frees those objects as before;
- collects young objects every 20,000 allocations instead of 700 (``THRESHOLDS``): a
  request's objects die before a collection sees them instead of being promoted, so the
  oldest generation grows, and is walked, far less often (no full collection in that
  opening any more); a young collection then takes 15–45 ms instead of under 1 ms;
- keeps no greenlet spawn stacks (gevent's ``track_greenlet_tree``): every Socket.IO
  event spawns a greenlet, and each kept ten frame records;

and measures ``examsvc_loop_lag_seconds`` (how late a timer fired, every ``LAG_EVERY``
seconds) and ``examsvc_gc_pause_seconds`` (each collection, by generation).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import gevent

from examsvc.metrics import GC_PAUSE_SECONDS, LOOP_LAG_SECONDS

LAG_EVERY = 0.5  # seconds between two lag readings
THRESHOLDS = (20_000, 20, 20)  # Python's default: (700, 10, 10)


def start() -> gevent.Greenlet:
    """In a serving process, once its app is built and before it serves; the greenlet
    that reads the lag."""
    gevent.config.track_greenlet_tree = False  # a debugging aid, paid for every event
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
