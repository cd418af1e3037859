"""The event loop's health (``examsvc.loop``): lag readings from an injected clock, the
collections timed, and what exists when the app is built left out of later collections."""

from __future__ import annotations

import gc

import gevent

from examsvc import loop
from examsvc.metrics import GC_PAUSE_SECONDS


def test_the_lag_is_how_much_later_than_asked_the_loop_woke():
    times = iter([10.0, 10.5, 20.0, 20.8, 30.0, 30.49])
    slept: list[float] = []
    lags: list[float] = []
    loop.watch_lag(
        0.5, monotonic=lambda: next(times), sleep=slept.append, observe=lags.append, rounds=3
    )
    assert slept == [0.5, 0.5, 0.5]
    assert [round(x, 3) for x in lags] == [0.0, 0.3, 0.0]  # on time, 300 ms late, early


def count(generation: str) -> float:
    for metric in GC_PAUSE_SECONDS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels["generation"] == generation:
                return sample.value
    return 0.0


def test_freezing_leaves_the_built_objects_out_and_times_each_collection():
    kept = [[object()] for _ in range(50_000)]  # built before the freeze, like the app
    try:
        loop.freeze()
        assert gc.get_freeze_count() >= 50_000
        frozen_list_walked = any(x is kept for x in gc.get_objects(generation=2))
        assert not frozen_list_walked  # the oldest generation no longer holds them
        before = count("2")
        gc.collect(2)
        assert count("2") == before + 1
    finally:
        gc.unfreeze()
        gc.callbacks.remove(loop._time_collections)


def test_a_serving_process_collects_young_objects_less_often_and_keeps_no_spawn_stacks():
    thresholds = gc.get_threshold()
    try:
        watcher = loop.start()
        watcher.kill()
        assert gc.get_threshold() == loop.THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert gevent.spawn(lambda: None).spawning_stack is None
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        gc.callbacks.remove(loop._time_collections)
        gevent.config.track_greenlet_tree = True
