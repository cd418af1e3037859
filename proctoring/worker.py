"""A face worker on Redis: ``python -m proctoring.worker --redis redis://127.0.0.1:6379/0``."""

from __future__ import annotations

import argparse
import os

from rq import Queue, SimpleWorker

from proctoring import distributed, jobs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    parser.add_argument("--namespace", default="", help="prefix of the queue names")
    parser.add_argument(
        "--nice",
        type=int,
        default=10,
        help="lower this worker's CPU priority by this much (0: unchanged): on a machine it"
        " shares with web processes, they acknowledge answers first",
    )
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    jobs.warm_up()  # once per worker, not per job
    redis = distributed.connect(args.redis)
    queues = [Queue(name, connection=redis) for name in distributed.queue_names(args.namespace)]
    SimpleWorker(queues, connection=redis).work(burst=args.burst, with_scheduler=False)


if __name__ == "__main__":
    main()
