"""CPU of the web process per step of an admitted candidate's own path at a synchronised
start (issue #14): what each candidate costs before their first answer, the face work
excepted.

    .venv/bin/python bench/bench_entry.py [--candidates 200] [--database-url URL]
        [--profile FILE.pstats]

The app comes from the factory with a real database, as in ``bench/bench_save.py``: a fresh
SQLite file in a temporary folder, or, when ``--database-url`` (default:
``$EXAMSVC_DATABASE_URL``) names a PostgreSQL server, a fresh database
``examsvc_bench_entry`` on it (dropped and created again). CSRF is on, as in production;
liveness is off, as in ``bench/load.py``. A cycle, a 500-question bank, a 54-question paper
like the demo's, and ``--candidates`` physicians with a usable registration photo, none
logged in yet. Then each candidate, one after the other, does what a phone does in
``bench/load.py`` (``Candidate._run``), each step timed with ``time.process_time()`` (CPU of
this process: the Flask and Socket.IO test clients call the app in-process, so the clients'
own small part — building a request, encoding a packet, reading the answer — is counted
too) and ``time.perf_counter()`` (wall):

- ``session``: ``GET /api/v1/session`` (a new browser: its CSRF token);
- ``login``: ``POST /api/v1/session`` with the token; the argon2id verification is timed
  on its own (``argon2``, the calling thread's CPU) and taken out of ``login``'s CPU;
- ``session2``: ``GET /api/v1/session`` again (the logged-in session's token);
- ``consent``: ``POST /api/v1/exam/consent``;
- ``overview``: ``GET /api/v1/exam``;
- ``connect``: the Socket.IO connection to ``/exam`` with the session's cookie;
- ``admission``: the ``admission`` event (admitted at once: nobody else is in the queue);
- ``entry``: ``entry_frames`` with three ~40 KB JPEG frames (the frames stored, the entry
  check written). The face pool is a stand-in that answers at once with a passed
  decision as the engine gives it (``entry`` job: three distances, three encodings
  enrolled): the workers' CPU is in other processes and not this bench's subject, but
  the web process's side of a face job (the calibration read, ending the transaction,
  the future) runs as under ``examsvc serve``;
- ``start``: ``POST /api/v1/exam/papers/<id>/attempts``;
- ``state``: ``GET /api/v1/exam/attempts/<id>``;
- ``join``: the ``exam_join`` event.

The statements each step sends are counted (they do not depend on the machine's load).
Afterwards every candidate's entry check is read back: passed, three frame files of the
sizes sent, the attempt linked to it, the admission slot freed. With ``--profile`` the timed
part runs under cProfile with a CPU timer (its overhead about quadruples the times) and the
stats are written there, and each step's alone beside it (``FILE.<step>.pstats``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_save import database  # noqa: E402  (a fresh SQLite or PostgreSQL database)

PASSWORD = "Bench-Entry-2026"
BENCH_DB = "examsvc_bench_entry"
SECTIONS = (("single", 30), ("multiple", 10), ("true_false", 10), ("case", 2), ("matching", 2))
STEPS = (
    "session",
    "login",
    "session2",
    "consent",
    "overview",
    "connect",
    "admission",
    "entry",
    "start",
    "state",
    "join",
)


def build(candidates: int, now: datetime) -> int:
    """The exam and the candidates (committed, a usable photo each): the paper's id."""
    from examsvc.enums import PhotoStatus, Procedure
    from examsvc.extensions import db
    from tests.factories import create_cycle, create_physician
    from tests.factories_exam import create_bank, create_paper, create_window, paper_spec

    cycle = create_cycle()
    create_bank(now=now, per_type=50)
    spec = paper_spec().model_dump(mode="json")
    spec["sections"] = [
        s | {"count": count} for s, (_, count) in zip(spec["sections"], SECTIONS, strict=True)
    ]
    paper = create_paper(cycle.id, now, sections=spec["sections"])
    create_window(paper, now - timedelta(hours=1), hours=48)
    for n in range(candidates):
        physician = create_physician(
            cycle,
            Procedure.SIMPLE,
            password=PASSWORD,
            photo_status=PhotoStatus.OK,
            face_encoding=encoding(n),
        )
        physician.user.must_change_password = False
    db.session.commit()
    return paper.id


def encoding(n: int) -> bytes:
    """A face encoding's bytes (128 float64), distinct per ``n``."""
    import struct

    return struct.pack("<128d", *((n * 131 + i) % 97 / 97 - 0.5 for i in range(128)))


def frames() -> list[bytes]:
    """Three camera-like 640×480 JPEG frames of about 40 KB, as bench/load.py's phones send."""
    import numpy as np
    from PIL import Image

    out = []
    for seed in range(3):
        rng = np.random.default_rng(14 + seed)
        y, x = np.mgrid[0:480, 0:640]
        pixels = np.stack([(x // 3) % 256, (y // 2) % 256, (x + y) // 5 % 256], axis=-1)
        pixels = pixels + rng.integers(0, 32, size=pixels.shape)
        buffer = io.BytesIO()
        Image.fromarray(pixels.clip(0, 255).astype("uint8")).save(buffer, "JPEG", quality=75)
        out.append(buffer.getvalue())
    return out


def passed(n: int) -> dict[str, Any]:
    """The ``entry`` job's result as the engine gives it for three good frames."""
    return {
        "passed": True,
        "code": "passed",
        "message_zh": "人脸验证通过",
        "message_en": "Face verification passed",
        "distances": [0.3012, 0.2877, 0.3105],
        "median_distance": 0.3012,
        "distance": 0.2998,
        "thresholds": {"accept": 0.42, "reject": 0.5, "aggregate": "median"},
        "frames": [
            {"faces": 1, "brightness": 121.4, "sharpness": 388.2, "face_ratio": 0.26}
            for _ in range(3)
        ],
        "ok": True,
        "enrolled": [encoding(n + k) for k in range(3)],
    }


class StandInPool:
    """``faces._pool`` for the bench: every job answered at once (the entry passed)."""

    def __init__(self) -> None:
        self.jobs = 0

    def submit(self, kind: str, payload: dict[str, Any], **_: Any) -> Future[dict[str, Any]]:
        assert kind == "entry", kind
        assert len(payload["frames"]) == 3 and payload["reference"]
        self.jobs += 1
        future: Future[dict[str, Any]] = Future()
        future.set_result(passed(self.jobs))
        return future

    def metrics(self) -> dict[str, Any]:
        return {}


def body(response: Any) -> Any:
    """A response's JSON, read with the standard library: the app's own reader (with its
    depth check) would charge the bench's reading of the large start and state answers
    to the steps."""
    return json.loads(response.get_data())


def timed(fn: Callable[[], Any], cpu: list[float], wall: list[float]) -> Any:
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    cpu.append(time.process_time() - c)
    wall.append(time.perf_counter() - w)
    return out


def line(name: str, cpu: list[float], wall: list[float], statements: int) -> str:
    ms = [x * 1000 for x in cpu]
    return (
        f"{name:9} n={len(cpu):4}  CPU ms: mean {statistics.fmean(ms):6.2f}"
        f"  p50 {statistics.median(ms):6.2f}  p90 {sorted(ms)[int(len(ms) * 0.9)]:6.2f}"
        f"  | wall ms mean {statistics.fmean(wall) * 1000:6.2f}"
        f"  | statements {statements / len(cpu):5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("EXAMSVC_DATABASE_URL"))
    parser.add_argument("--profile", default=None)
    args = parser.parse_args()

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from examsvc import create_app, offload
    from examsvc.attempts.events import NAMESPACE
    from examsvc.camera import faces
    from examsvc.clock import FrozenClock
    from examsvc.extensions import db, socketio
    from examsvc.roster.models import Physician

    folder = Path(tempfile.mkdtemp(prefix="bench-entry-"))
    now = datetime.now(UTC)
    clock = FrozenClock(now)
    url = database(args.database_url, folder, BENCH_DB)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "DATA_DIR": str(folder / "data"),
            "SESSION_COOKIE_SECURE": False,
            "ROSTER_PULL_INTERVAL": 0,
            "LIVENESS": False,
            "CLOCK": clock,
        }
    )
    with app.app_context():
        upgrade()
        paper_id = build(args.candidates, now)
        logins = list(db.session.scalars(sa.select(Physician.id_number).order_by(Physician.id)))
        db.session.remove()
    images = frames()

    argon2: list[float] = []
    hash_call = offload.hash_call

    def timed_hash(fn: Callable[..., Any], *a: Any) -> Any:
        started = time.thread_time()  # inline here (no pools started): this thread's CPU
        try:
            return hash_call(fn, *a)
        finally:
            argon2.append(time.thread_time() - started)

    offload.hash_call = timed_hash  # type: ignore[assignment]
    pool = StandInPool()
    faces._pool = pool  # type: ignore[assignment]

    statements = dict.fromkeys(STEPS, 0)
    phase = ["session"]

    def count(*_: Any) -> None:
        statements[phase[0]] += 1

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)

    cpu: dict[str, list[float]] = {name: [] for name in STEPS}
    wall: dict[str, list[float]] = {name: [] for name in STEPS}

    # One CPU-timed profile per step (cProfile's overhead with this timer is about 4×).
    profiles = {name: cProfile.Profile(time.process_time) for name in STEPS}

    def step(name: str, fn: Callable[[], Any]) -> Any:
        phase[0] = name
        if not args.profile:
            return timed(fn, cpu[name], wall[name])
        profiles[name].enable()
        try:
            return timed(fn, cpu[name], wall[name])
        finally:
            profiles[name].disable()

    sockets = []
    attempts: list[int] = []
    for login in logins:
        clock.advance(seconds=1)
        http = app.test_client()
        token = body(step("session", lambda h=http: h.get("/api/v1/session")))["csrf_token"]
        hashed = len(argon2)
        answer = step(
            "login",
            lambda h=http, t=token, lo=login: h.post(
                "/api/v1/session",
                json={"login": lo, "password": PASSWORD},
                headers={"X-CSRFToken": t},
            ),
        )
        assert answer.status_code == 200 and body(answer)["user"], answer.get_data()
        assert len(argon2) == hashed + 1
        cpu["login"][-1] -= argon2[-1]
        got = body(step("session2", lambda h=http: h.get("/api/v1/session")))
        headers = {"X-CSRFToken": got["csrf_token"]}
        consent = step(
            "consent", lambda h=http, hd=headers: h.post("/api/v1/exam/consent", headers=hd)
        )
        assert consent.status_code == 200, consent.get_data()
        papers = body(step("overview", lambda h=http: h.get("/api/v1/exam")))["papers"]
        assert any(p["paper_id"] == paper_id and p["can_start"] for p in papers), papers
        socket = step(
            "connect",
            lambda h=http: socketio.test_client(app, namespace=NAMESPACE, flask_test_client=h),
        )
        assert socket.is_connected(NAMESPACE)
        sockets.append(socket)
        place = step(
            "admission",
            lambda s=socket: s.emit("admission", {}, namespace=NAMESPACE, callback=True),
        )
        assert place["ok"] and place["admitted"], place
        ack = step(
            "entry",
            lambda s=socket: s.emit(
                "entry_frames",
                {"paper_id": paper_id, "frames": images, "motion": []},
                namespace=NAMESPACE,
                callback=True,
            ),
        )
        assert ack["ok"] and ack["admitted"], ack
        started = step(
            "start",
            lambda h=http, hd=headers: h.post(
                f"/api/v1/exam/papers/{paper_id}/attempts",
                json={"rules_acknowledged": True},
                headers=hd,
            ),
        )
        assert started.status_code == 201, started.get_data(as_text=True)
        attempt_id = body(started)["id"]
        attempts.append(attempt_id)
        state = step("state", lambda h=http, a=attempt_id: h.get(f"/api/v1/exam/attempts/{a}"))
        assert state.status_code == 200 and body(state)["items"]
        joined = step(
            "join",
            lambda s=socket, a=attempt_id: s.emit(
                "exam_join", {"attempt_id": a}, namespace=NAMESPACE, callback=True
            ),
        )
        assert joined["ok"], joined
    if args.profile:
        import pstats

        stem = args.profile.removesuffix(".pstats")
        for name, profile in profiles.items():
            profile.dump_stats(f"{stem}.{name}.pstats")
        pstats.Stats(*(f"{stem}.{name}.pstats" for name in STEPS)).dump_stats(args.profile)

    with app.app_context():
        sa.event.remove(db.engine, "before_cursor_execute", count)
        from examsvc.admission.models import AdmissionTicket
        from examsvc.camera.models import EntryCheck, EntryOutcome

        checks = {
            c.physician_id: c
            for c in db.session.scalars(sa.select(EntryCheck).order_by(EntryCheck.id))
        }
        sizes = sorted(len(i) for i in images)
        bad = [
            c.id
            for c in checks.values()
            if c.outcome != EntryOutcome.PASSED
            or not c.device
            or sorted((folder / "data" / p).stat().st_size for p in c.frames) != sizes
        ]
        linked = len({c.attempt_id for c in checks.values()} & set(attempts))
        open_tickets = db.session.scalar(
            sa.select(sa.func.count()).where(AdmissionTicket.finished_at.is_(None))
        )
        dialect = db.engine.dialect.name
        db.session.remove()
        db.engine.dispose()
    for socket in sockets:
        socket.disconnect(NAMESPACE)

    print(f"database: {dialect}, candidates: {len(logins)}, face jobs: {pool.jobs}")
    print(f"frames: {', '.join(f'{len(i) / 1024:.1f} KB' for i in images)}")
    total = 0.0
    for name in STEPS:
        print(line(name, cpu[name], wall[name], statements[name]))
        total += statistics.fmean(cpu[name])
    ms = [x * 1000 for x in argon2]
    print(f"{'argon2':9} n={len(ms):4}  CPU ms: mean {statistics.fmean(ms):6.2f} (not in login)")
    print(f"per candidate, the steps above: {total * 1000:.1f} ms of CPU (argon2 apart)")
    print(
        f"entry checks: {len(checks)}, not passed or frames missing: {len(bad)};"
        f" attempts linked to their check: {linked}/{len(attempts)};"
        f" admission slots still open: {open_tickets}"
    )
    if bad or len(checks) != len(logins) or linked != len(attempts) or open_tickets:
        sys.exit(1)


if __name__ == "__main__":
    main()
