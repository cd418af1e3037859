"""CPU per answer save, per start and per attempt-state fetch on the real app code path
(issue #14's budgets: ≤ 2 ms per acknowledged save, ≤ 5 ms per start and per state fetch),
and per in-exam snapshot stored and per analysis recorded.

    .venv/bin/python bench/bench_save.py [--candidates 100] [--saves 2000] [--states 500]
        [--snapshots 1000] [--database-url URL] [--profile FILE.pstats] [--no-freeze]
        [--no-warm]

The app comes from the factory with a real database: a fresh SQLite file in a temporary
folder, or, when ``--database-url`` (default: ``$EXAMSVC_DATABASE_URL``) names a PostgreSQL
server, a fresh database ``examsvc_bench_save`` on it (dropped and created again). A cycle, a
500-question bank and a 54-question paper like the demo's, and ``--candidates`` physicians,
each logged in on a Flask test client and past the entry gate. Then, timed one by one with
``time.process_time()`` (CPU of this process, which is the web process: the test client
calls the WSGI app in-process) and ``time.perf_counter()`` (wall, which includes a commit's
fsync and PostgreSQL's own work):

- each candidate's start: ``POST /api/v1/exam/papers/<id>/attempts``;
- then the rest of each candidate's way to ready, one step after another for every
  candidate: the exam page (``GET /exam/<attempt id>``, ``page``), the Socket.IO
  connection to ``/exam`` (the test client's connect, which runs the connect handler:
  ``connect``) and ``exam_join`` (acknowledged: ``join``);
- ``--saves`` answer saves over each candidate's Socket.IO test client (namespace ``/exam``,
  event ``answer``, the acknowledgement checked), round robin over the candidates;
- ``--states`` state fetches: ``GET /api/v1/exam/attempts/<id>``;
- ``--snapshots`` snapshots (a ~30 KB JPEG) over the same Socket.IO clients (event
  ``snapshot``, acknowledged with its id), round robin, the app's clock moved on 10 s per
  round (within the rate limit); the analysis is not handed to a face pool (the stored
  snapshots are collected instead) and the invigilators' cards wait to be pushed together,
  as in a serving process (the push itself not timed);
- then each stored snapshot's decision recorded (an engine result: one face, no flag) in a
  unit of its own, as ``camera.analysis`` records it after the face pool's answer.

The invigilators' cards wait to be pushed together, as in a serving process
(``CARD_PUSH_SECONDS``), during the whole timed part: the starts' cards are then pushed in
one batch, timed on its own (``push``, once).

As a serving process does before it serves, the app is warmed up (``examsvc.warm.warm``:
the hot reads compiled, the open papers' candidate lists read, the candidate's templates
compiled, the catalogs read; ``--no-warm`` leaves that to the first calls, as before).
As a serving process does (``examsvc.loop.start``), the objects that exist once the app is
built and warmed (set-up done: the exam, the candidates logged in and past the gate) are
left out of every later collection (``examsvc.loop.freeze``: ``gc.collect`` then
``gc.freeze``) just before the timed part, so a full collection during it walks only what
the timed part made; ``--no-freeze`` leaves them in, as before. Each line reports the mean
and the median (p50) of its calls; the collections run during the timed part are counted
per generation, and their CPU summed per phase (starts, saves, …: mostly inside the timed
calls, some in the bench's own code between two calls).

Every save is checked afterwards: stored seq = last acknowledged seq of each question; every
acknowledged snapshot: its file, and its decision recorded. The statements sent per start,
save, state fetch, snapshot and record are counted (they do not depend on the machine's
load). With ``--profile`` each timed call runs under cProfile with a CPU timer
(``time.process_time``), a profiler per kind of call, whose function calls per call are
printed (they do not depend on the load either); the merged stats are written there.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PASSWORD = "Bench-Save-2026"
BENCH_DB = "examsvc_bench_save"
SECTIONS = (("single", 30), ("multiple", 10), ("true_false", 10), ("case", 2), ("matching", 2))


def database(url: str | None, folder: Path, name: str = BENCH_DB) -> str:
    """The SQLAlchemy URL of a fresh database: SQLite in ``folder``, or the database ``name``
    (dropped and created afresh) on the PostgreSQL server of ``url``."""
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{folder / 'bench.db'}"
    import sqlalchemy as sa

    base = url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(base).set(database=name).render_as_string(hide_password=False)


def build(candidates: int, now: datetime) -> int:
    """The exam and the candidates (committed): the paper's id."""
    from examsvc.enums import Procedure
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
    for _ in range(candidates):
        create_physician(cycle, Procedure.SIMPLE, password=PASSWORD)
    db.session.commit()
    return paper.id


PROFILERS: dict[int, cProfile.Profile] = {}  # id(cpu list) → its kind's profiler


def timed(fn: Callable[[], Any], cpu: list[float], wall: list[float]) -> Any:
    profiler = PROFILERS.get(id(cpu))
    c, w = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    out = fn()
    if profiler is not None:
        profiler.disable()
    cpu.append(time.process_time() - c)
    wall.append(time.perf_counter() - w)
    return out


def calls(profiler: cProfile.Profile) -> int:
    """Function calls the profiler saw (pstats' total)."""
    import pstats

    return int(pstats.Stats(profiler).total_calls)  # type: ignore[attr-defined]


def line(name: str, cpu: list[float], wall: list[float]) -> str:
    ms = [x * 1000 for x in cpu]
    return (
        f"{name:8} n={len(cpu):5}  CPU ms: mean {statistics.fmean(ms):6.2f}"
        f"  median {statistics.median(ms):6.2f}  p90 {sorted(ms)[int(len(ms) * 0.9)]:6.2f}"
        f"  | wall ms mean {statistics.fmean(wall) * 1000:6.2f}"
    )


def jpeg() -> bytes:
    """A camera-like 640×480 JPEG (~30 KB)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(14)
    y, x = np.mgrid[0:480, 0:640]
    pixels = np.stack([(x // 3) % 256, (y // 2) % 256, (x + y) // 5 % 256], axis=-1)
    pixels = pixels + rng.integers(0, 24, size=pixels.shape)
    out = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype("uint8")).save(out, "JPEG", quality=70)
    return out.getvalue()


ANALYSED = {  # an engine's result as ``check_snapshot(...).as_dict()`` gives it
    "ok": True,
    "flags": [],
    "distance": 0.2113,
    "face_count": 1,
    "box": [212, 398, 376, 234],
    "issues": [],
    "measurements": {"brightness": 121.4, "sharpness": 388.2, "face_ratio": 0.26},
}


def answer_for(item: dict[str, Any], n: int) -> Any:
    if item["type"] == "true_false":
        return n % 2 == 0
    if item["type"] in ("case", "matching"):
        options = item.get("options") or item["sub_questions"][0]["options"]
        return {s["id"]: options[n % len(options)]["key"] for s in item["sub_questions"]}
    keys = [o["key"] for o in item["options"]]
    return (
        [keys[n % len(keys)], keys[(n + 1) % len(keys)]]
        if item["type"] == "multiple"
        else (keys[n % len(keys)])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--saves", type=int, default=2000)
    parser.add_argument("--states", type=int, default=500)
    parser.add_argument("--snapshots", type=int, default=1000)
    parser.add_argument("--database-url", default=os.environ.get("EXAMSVC_DATABASE_URL"))
    parser.add_argument("--profile", default=None)
    parser.add_argument(
        "--no-freeze", action="store_true", help="do not gc.freeze the set-up (as before)"
    )
    parser.add_argument(
        "--no-warm", action="store_true", help="do not warm up (examsvc.warm) before timing"
    )
    args = parser.parse_args()

    from flask_migrate import upgrade

    from examsvc import create_app, uow
    from examsvc.camera import analysis, operations
    from examsvc.clock import FrozenClock
    from examsvc.extensions import db, socketio
    from examsvc.invigilation import live
    from examsvc.roster.models import Physician
    from tests.factories_exam import let_in

    folder = Path(tempfile.mkdtemp(prefix="bench-save-"))
    now = datetime.now(UTC)
    clock = FrozenClock(now)  # moved on by the snapshots only
    url = database(args.database_url, folder)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "DATA_DIR": str(folder / "data"),
            "WTF_CSRF_ENABLED": False,
            "SESSION_COOKIE_SECURE": False,
            "ROSTER_PULL_INTERVAL": 0,
            "CLOCK": clock,
        }
    )
    with app.app_context():
        upgrade()
        paper_id = build(args.candidates, now)
        physicians = list(db.session.scalars(db.select(Physician).order_by(Physician.id)))
        clients = []
        for physician in physicians:
            client = app.test_client()
            client.post("/login", data={"login": physician.id_number, "password": PASSWORD})
            let_in(client, physician)
            clients.append(client)
        db.session.remove()

    import sqlalchemy as sa

    # With --profile: one profiler per kind of call, enabled only inside its timed calls.
    profilers: dict[str, cProfile.Profile] = {}
    names = ("start", "push", "page", "connect", "join", "save", "state", "snapshot", "record")
    cpu: dict[str, list[float]] = {name: [] for name in names}
    wall: dict[str, list[float]] = {name: [] for name in names}
    statements = dict.fromkeys(names, 0)
    if args.profile:
        for name in names:
            profilers[name] = PROFILERS[id(cpu[name])] = cProfile.Profile(time.process_time)
    phase = ["start"]

    def count(*_: Any) -> None:
        statements[phase[0]] = statements.get(phase[0], 0) + 1

    warmed = "none (no examsvc.warm in this tree)"
    if not args.no_warm:
        try:
            from examsvc import warm
        except ImportError:
            pass
        else:
            # as ``examsvc serve`` and gunicorn's worker do, just before ``loop.start``
            warmed = f"{warm.warm(app) * 1000:.0f} ms (examsvc.warm)"
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    # The cards wait to be pushed together, as in a serving process (``live.start``).
    due = app.extensions["examsvc.due_cards"] = live.DueCards(app, 1.0, lambda later: None)
    if not args.no_freeze:
        from examsvc import loop

        loop.freeze()  # as ``loop.start`` in a serving process, once the app is built
    collections = [g["collections"] for g in gc.get_stats()]
    gc_cpu: dict[str, float] = {}
    gc_started = [0.0]

    def time_collection(stage: str, info: dict[str, Any]) -> None:
        if stage == "start":
            gc_started[0] = time.process_time()
        else:
            spent = time.process_time() - gc_started[0]
            gc_cpu[phase[0]] = gc_cpu.get(phase[0], 0.0) + spent

    gc.callbacks.append(time_collection)
    attempts = []
    for client in clients:
        response = timed(
            lambda c=client: c.post(
                f"/api/v1/exam/papers/{paper_id}/attempts", json={"rules_acknowledged": True}
            ),
            cpu["start"],
            wall["start"],
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        attempts.append(response.get_json())
    phase[0] = "push"
    timed(due.push, cpu["push"], wall["push"])
    phase[0] = "page"
    for client, attempt in zip(clients, attempts, strict=True):
        response = timed(
            lambda c=client, a=attempt["id"]: c.get(f"/exam/{a}"), cpu["page"], wall["page"]
        )
        assert response.status_code == 200, response.status_code
    phase[0] = "connect"
    sockets = [
        timed(
            lambda c=client: socketio.test_client(app, namespace="/exam", flask_test_client=c),
            cpu["connect"],
            wall["connect"],
        )
        for client in clients
    ]
    assert all(s.is_connected("/exam") for s in sockets)
    phase[0] = "join"
    for socket, attempt in zip(sockets, attempts, strict=True):
        joined = timed(
            lambda s=socket, a=attempt["id"]: s.emit(
                "exam_join", {"attempt_id": a}, namespace="/exam", callback=True
            ),
            cpu["join"],
            wall["join"],
        )
        assert joined["ok"], joined
    phase[0] = "save"
    acked: dict[tuple[int, int], int] = {}
    for n in range(args.saves):
        k = n % len(clients)
        attempt = attempts[k]
        item = attempt["items"][(n // len(clients)) % len(attempt["items"])]
        seq = n + 1
        message = {
            "attempt_id": attempt["id"],
            "position": item["position"],
            "response": answer_for(item, n),
            "marked": n % 3 == 0,
            "seq": seq,
        }
        ack = timed(
            lambda s=sockets[k], m=message: s.emit("answer", m, namespace="/exam", callback=True),
            cpu["save"],
            wall["save"],
        )
        assert ack["ok"] and ack["code"] == "saved", ack
        acked[(attempt["id"], item["position"])] = seq
    phase[0] = "state"
    for n in range(args.states):
        k = n % len(clients)
        response = timed(
            lambda c=clients[k], a=attempts[k]["id"]: c.get(f"/api/v1/exam/attempts/{a}"),
            cpu["state"],
            wall["state"],
        )
        assert response.status_code == 200 and response.get_json()["items"]

    phase[0] = "snapshot"
    image = jpeg() if args.snapshots else b""
    snapshots: list[Any] = []
    analysis.dispatch = lambda app, stored: snapshots.append(stored)  # no face pool here
    for n in range(args.snapshots):
        k = n % len(clients)
        if k == 0 and n:
            clock.advance(seconds=10)
        message = {"attempt_id": attempts[k]["id"], "image": image}
        ack = timed(
            lambda s=sockets[k], m=message: s.emit("snapshot", m, namespace="/exam", callback=True),
            cpu["snapshot"],
            wall["snapshot"],
        )
        assert ack["ok"], ack

    def record(snapshot_id: int) -> Any:
        try:
            return uow.run(
                lambda: operations.record_analysis(snapshot_id, ANALYSED, now=clock.now())
            )
        finally:
            db.session.remove()

    phase[0] = "record"
    with app.app_context():
        for snapshot in snapshots:
            decided = timed(lambda i=snapshot.id: record(i), cpu["record"], wall["record"])
            assert decided, snapshot
    del app.extensions["examsvc.due_cards"]
    with app.app_context():
        sa.event.remove(db.engine, "before_cursor_execute", count)
    if args.profile:
        import pstats

        merged = pstats.Stats(*(p for name, p in profilers.items() if cpu[name]))
        merged.dump_stats(args.profile)
    gc.callbacks.remove(time_collection)
    collections = [g["collections"] - n for g, n in zip(gc.get_stats(), collections, strict=True)]

    with app.app_context():
        from examsvc.attempts.models import Answer, AttemptItem

        stored = {
            (a, p): s
            for a, p, s in db.session.execute(
                sa.select(Answer.attempt_id, AttemptItem.position, Answer.seq).join(
                    AttemptItem, AttemptItem.id == Answer.item_id
                )
            )
        }
        lost = sum(1 for key, seq in acked.items() if stored.get(key) != seq)
        from examsvc.camera.models import Snapshot, SnapshotStatus

        undecided = [
            path
            for path, status in db.session.execute(sa.select(Snapshot.path, Snapshot.status))
            if status != SnapshotStatus.OK or not (folder / "data" / str(path)).is_file()
        ]
        dialect = db.engine.dialect.name
        sync = None
        if dialect == "sqlite":
            with db.engine.connect() as conn:
                sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        db.session.remove()
        db.engine.dispose()

    print(f"database: {dialect}" + (f" (PRAGMA synchronous={sync})" if sync is not None else ""))
    print(f"items per attempt: {len(attempts[0]['items'])}")
    print(f"warm-up: {'skipped (--no-warm)' if args.no_warm else warmed}")
    print(
        f"gc: set-up {'not frozen' if args.no_freeze else 'frozen (loop.freeze)'};"
        f" collections during the timed part by generation: {collections}"
    )
    for name in names:
        if cpu[name] and name in gc_cpu:
            print(f"gc CPU ms per {name}: {gc_cpu[name] * 1000 / len(cpu[name]):.3f}")
    for name in names:
        if cpu[name]:
            print(line(name, cpu[name], wall[name]))
    for name in ("start", "page", "connect", "join"):
        if len(cpu[name]) > 1:  # the first call also builds and caches what every call uses
            print(line(f"{name}>1", cpu[name][1:], wall[name][1:]))
    ready = ("start", "page", "state", "connect", "join")
    if all(cpu[name] for name in ready):
        print(
            "ready (start + page + state + connect + join, sum of the means): CPU ms "
            f"{sum(statistics.fmean(cpu[name]) for name in ready) * 1000:.2f}"
        )
    print(f"answers acknowledged: {len(acked)} (last per question), not stored as acked: {lost}")
    print(
        f"snapshots acknowledged: {len(cpu['snapshot'])}, without file or decision: {len(undecided)}"
    )
    for name in names:
        n = statements[name]
        if cpu[name]:
            print(f"statements per {name}: {n / len(cpu[name]):.2f}")
    for name, profiler in profilers.items():
        if cpu[name]:
            print(f"function calls per {name} (profiled): {calls(profiler) / len(cpu[name]):.0f}")
    print(f"cards pushed in one batch: those of {len(attempts)} starts")
    if lost or undecided:
        sys.exit(1)


if __name__ == "__main__":
    main()
