"""A face worker on Redis: ``python -m proctoring.worker --redis redis://127.0.0.1:6379/0``."""

from __future__ import annotations

import argparse

from rq import Queue, SimpleWorker

from proctoring import distributed, jobs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    parser.add_argument("--namespace", default="", help="prefix of the queue names")
    args = parser.parse_args(argv)
    jobs.warm_up()  # once per worker, not per job
    redis = distributed.connect(args.redis)
    queues = [Queue(name, connection=redis) for name in distributed.queue_names(args.namespace)]
    SimpleWorker(queues, connection=redis).work(burst=args.burst, with_scheduler=False)


if __name__ == "__main__":
    main()
