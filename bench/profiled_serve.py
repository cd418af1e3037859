"""``examsvc serve`` under cProfile for a window the load benchmark chooses (benchmark only:
no profiling code lives in the app). SIGUSR1 starts the profiler, SIGUSR2 stops it and
writes the stats to ``$EXAMSVC_BENCH_PROFILE`` (a .pstats file); SIGHUP writes a census of
the objects the garbage collector walks, by type, to ``$EXAMSVC_BENCH_CENSUS``.

    python bench/profiled_serve.py serve --port 5000 --no-jobs
"""

from __future__ import annotations

import sys
from pathlib import Path

from gevent import monkey

monkey.patch_all()

import collections  # noqa: E402
import cProfile  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examsvc.cli import main  # noqa: E402

# CPU time, not wall time: under gevent a wall-clock profile charges every wait on a socket
# to the greenlet that was switched out (``recv`` shows as the top function).
_profiler = cProfile.Profile(time.process_time)


def _start() -> None:
    _profiler.enable()


def _stop() -> None:
    _profiler.disable()
    _profiler.dump_stats(os.environ["EXAMSVC_BENCH_PROFILE"])


def _census() -> None:
    """The objects the garbage collector walks, by type (the frozen ones apart)."""
    counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    census = {
        "tracked": sum(counts.values()),
        "frozen": gc.get_freeze_count(),
        "top": counts.most_common(40),
    }
    Path(os.environ["EXAMSVC_BENCH_CENSUS"]).write_text(json.dumps(census))


gevent.signal_handler(signal.SIGUSR1, _start)
gevent.signal_handler(signal.SIGHUP, _census)
gevent.signal_handler(signal.SIGUSR2, _stop)

if __name__ == "__main__":
    main(sys.argv[1:])
