"""Does the event loop stay responsive? Connected candidates keep saving answers over
Socket.IO (each acknowledgement timed) against a real ``examsvc serve`` while (1) nothing
else happens, (2) a storm of logins runs, (3) a 3,000-question bank is imported over HTTP
(three times, one after another).
The issue's target: p99 answer acknowledgement ≤ 250 ms on this 2-core machine.

    .venv/bin/python bench/bench_loop.py [--candidates 20] [--logins 200] [--questions 3000]
        [--imports 3]

The server runs on a fresh demo database in a temporary folder; the bench adds the
physicians it needs through the database. Everything goes to 127.0.0.1; every loop is
bounded in count and time, and the server is stopped at the end. To measure another
checkout's server (e.g. before a change), copy this file into that checkout's bench/ and
run it there with that checkout on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import requests  # noqa: E402
import socketio  # noqa: E402

from bench.bench_import import questions, xlsx  # noqa: E402
from proctoring.pool import percentile  # noqa: E402
from tests.e2e.conftest import (  # noqa: E402
    Server,
    cookie_header,
    launch,
    physician_session,
    some_answer,
    start_first_paper,
)

PASSWORD = "Bench-Doc-2026"
TIMEOUT = 30  # seconds a save may wait for its acknowledgement (counted as failed)


def add_physicians(server: Server, first: int, count: int) -> list[str]:
    """``count`` more clinical physicians of the demo cycle (initial password): ID numbers."""
    from examsvc import create_app
    from examsvc.demo.data import CYCLE, demo_id
    from examsvc.extensions import db
    from examsvc.roster import operations
    from examsvc.roster.schemas import RosterItem

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": server.env["EXAMSVC_DATABASE_URL"],
            "DATA_DIR": str(Path(server.env["EXAMSVC_INSTANCE_PATH"]) / "data"),
        }
    )
    numbers = [demo_id(n, "19800101") for n in range(first, first + count)]
    items = [
        RosterItem.model_validate(
            {
                "registration_id": f"BENCH-{n:04d}",
                "status": "approved",
                "id_type": "resident_id",
                "id_number": number,
                "name": f"压测医师{n}号",
                "institution": {"code": "DEMO-001", "name": "演示市第一人民医院"},
                "practice_category": "clinical",
                "physician_level": "physician",
                "procedure": "simple",
                "exemptions": [],
                "evaluation": {"work_performance": "pass", "ethics": "pass"},
            }
        )
        for n, number in zip(range(first, first + count), numbers, strict=True)
    ]
    with app.app_context():
        cycle = operations.ensure_cycle(CYCLE)
        operations.import_items(cycle, items, now=datetime.now(UTC))
        db.session.commit()
        db.engine.dispose()
    return numbers


class Candidate(threading.Thread):
    """One physician in an attempt, saving an answer every ``pause`` seconds, timing acks."""

    def __init__(self, base: str, number: str, pause: float, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.http = physician_session(base, number, PASSWORD)
        attempt = start_first_paper(base, self.http)
        self.attempt_id = attempt["id"]
        self.items = [i for i in attempt["items"] if some_answer(i) is not None]
        self.client = socketio.Client(reconnection=False)
        self.client.connect(
            base, namespaces=["/exam"], headers=cookie_header(self.http), transports=["websocket"]
        )
        self.pause, self.stop = pause, stop
        self.acks: list[tuple[float, float, bool]] = []  # (sent, seconds to the ack, ok)

    def run(self) -> None:
        seq = 0
        while not self.stop.wait(self.pause) and seq < 100_000:
            seq += 1
            item = self.items[seq % len(self.items)]
            sent = time.monotonic()
            try:
                ack = self.client.call(
                    "answer",
                    {
                        "attempt_id": self.attempt_id,
                        "position": item["position"],
                        "response": some_answer(item),
                        "marked": False,
                        "seq": seq,
                    },
                    namespace="/exam",
                    timeout=TIMEOUT,
                )
            except socketio.exceptions.SocketIOError:  # no acknowledgement within TIMEOUT
                self.acks.append((sent, TIMEOUT, False))
                if not self.client.connected:
                    return
                continue
            self.acks.append((sent, time.monotonic() - sent, bool(ack and ack.get("ok"))))
        self.client.disconnect()


def login_storm(base: str, numbers: list[str], concurrency: int) -> dict[str, Any]:
    """Every physician logs in once, ``concurrency`` at a time; a 503 is retried (bounded)."""
    refused = 0
    lock = threading.Lock()

    def login(number: str) -> bool:
        nonlocal refused
        http = requests.Session()
        for _ in range(20):
            token = http.get(base + "/api/v1/session", timeout=60).json()["csrf_token"]
            answer = http.post(
                base + "/api/v1/session",
                json={"login": number, "password": "666666"},
                headers={"X-CSRFToken": token},
                timeout=60,
            )
            if answer.status_code != 503:
                return answer.ok
            with lock:
                refused += 1
            time.sleep(0.5)  # a person who was told "busy" tries again
        return False

    with ThreadPoolExecutor(concurrency) as pool:
        ok = sum(pool.map(login, numbers))
    return {"logins": len(numbers), "ok": ok, "busy_refusals": refused}


def quiet(seconds: float) -> dict[str, Any]:
    time.sleep(seconds)  # nothing but the candidates' saves
    return {}


def bank_import(base: str, data: bytes, imports: int) -> dict[str, Any]:
    """The administrator imports the bank ``imports`` times (new versions), one after another."""
    from examsvc.demo.data import STAFF

    _, login, _, password = STAFF[0]
    http = requests.Session()
    token = http.get(base + "/api/v1/session").json()["csrf_token"]
    assert http.post(
        base + "/api/v1/session",
        json={"login": login, "password": password},
        headers={"X-CSRFToken": token},
    ).ok
    token = http.get(base + "/api/v1/session").json()["csrf_token"]
    statuses = []
    for _ in range(imports):
        answer = http.post(
            base + "/api/v1/admin/banks/import",
            files={"file": ("bench.xlsx", data)},
            data={"code": "BENCH-3000", "name": "压测题库", "kind": "humanities"},
            headers={"X-CSRFToken": token},
            timeout=300,
        )
        statuses.append(answer.status_code)
    return {"statuses": statuses, "bytes": len(data)}


def phase(
    name: str, candidates: list[Candidate], work: Callable[..., dict[str, Any]], *args: Any
) -> dict[str, Any]:
    """Run ``work(*args)`` in another process (its threads must not slow the candidates'
    timing here) and summarise the acknowledgements of saves sent meanwhile."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as other:
        other.submit(int).result()  # started before the clock runs
        started = time.monotonic()
        details = other.submit(work, *args).result(timeout=600)
        ended = time.monotonic()
    acks = [a for c in candidates for a in c.acks if started <= a[0] <= ended]
    waits = [a[1] * 1000 for a in acks]
    return {
        "phase": name,
        "seconds": round(ended - started, 1),
        "acks": len(acks),
        "failed": sum(not a[2] for a in acks),
        "p50_ms": round(percentile(waits, 0.5) or 0),
        "p99_ms": round(percentile(waits, 0.99) or 0),
        "max_ms": round(max(waits, default=0)),
    } | details


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between saves")
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50, help="logins at a time")
    parser.add_argument("--questions", type=int, default=3000)
    parser.add_argument("--imports", type=int, default=3, help="one after another")
    parser.add_argument("--quiet-seconds", type=float, default=5)
    args = parser.parse_args()
    bank = xlsx(questions(args.questions))
    print("load average before:", *(round(n, 1) for n in os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp, launch(Path(tmp)) as server:
        sitting = add_physicians(server, 100, args.candidates)
        storm = add_physicians(server, 500, args.logins)
        stop = threading.Event()
        candidates = [Candidate(server.url, n, args.pause, stop) for n in sitting]
        for candidate in candidates:
            candidate.start()
        try:
            phase("warm-up", candidates, quiet, args.quiet_seconds)  # first saves: not counted
            results = [
                phase("quiet", candidates, quiet, args.quiet_seconds),
                phase(
                    f"{args.logins} logins",
                    candidates,
                    login_storm,
                    server.url,
                    storm,
                    args.concurrency,
                ),
                phase(
                    f"{args.imports} imports of a {args.questions}-question bank",
                    candidates,
                    bank_import,
                    server.url,
                    bank,
                    args.imports,
                ),
            ]
        finally:
            stop.set()
            for candidate in candidates:
                candidate.join(timeout=60)
    print(
        f"{args.candidates} candidates, one save each every {args.pause} s; "
        f"logins {args.concurrency} at a time"
    )
    for result in results:
        print(result)
    print("load average after:", *(round(n, 1) for n in os.getloadavg()))


if __name__ == "__main__":
    main()
