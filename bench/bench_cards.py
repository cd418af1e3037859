"""CPU of a live card push at 1,000 candidates: ``invigilation.queries.card_updates`` for
every candidate's attempt at once (what ``live.push_cards`` builds when a whole hall changed
within ``CARD_PUSH_SECONDS``), and the wall's first render (``queries.cards`` of one
session), by this tree's code and, with ``--before REV``, by the code of that commit.

    .venv/bin/python bench/bench_cards.py [--candidates 1000] [--sessions 25] [--pushes 10]
        [--rounds 3] [--before REV] [--database-url URL]

The app comes from the factory with a real database, as in ``bench/bench_save.py``: a fresh
SQLite file in a temporary folder, or, when ``--database-url`` (default:
``$EXAMSVC_DATABASE_URL``) names a PostgreSQL server, a fresh database ``examsvc_bench_cards``
on it (dropped and created again). One window, ``--sessions`` sessions sharing
``--candidates`` candidates, 30 minutes into the exam: each candidate has an attempt (one in
25 submitted), a snapshot a minute (30, their files named; one in 20 flagged, half of those
reviewed), 20 page events (hidden/visible and blur/focus pairs; one in 5 a disconnect and a
reconnect, one in 10 the camera stopped and started, one in 25 left disconnected and one in
25 with the camera off), an entry check (passed; one in 50 left for review) and one in 100
an override.

Each code (``after``: this tree; ``before``: ``git archive REV`` unpacked in a temporary
folder) runs in a process of its own with that tree first on ``sys.path``, against the same
database; ``--rounds`` rounds alternate them. In each, after one push untimed (the
statements compiled), ``--pushes`` pushes of every attempt, each in a read of its own ended
afterwards as a push's is, timed with ``time.process_time()`` (CPU of the process: SQLite
runs in it; PostgreSQL's own work is not counted) and ``time.perf_counter()``; ``hold`` is
the longest CPU stretch of the build without a yield of ``push_cards`` (between sessions;
with this tree, after each statement too: ``pause``); the cards' ``as_dict()`` is counted in
the push's CPU, not in a hold (it goes with the emits). ``render`` is the wall's first render of each session
(``queries.cards(session, now)``). Statements are counted per push and per render, and
the cards of both codes compared (their ``as_dict()``, the thumbs' tokens left out: they
carry the time they were signed).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH_DB = "examsvc_bench_cards"
NOW = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)


def build(url: str, folder: Path, candidates: int, sessions: int) -> None:
    """The hall (committed): see the module's docstring."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from examsvc import create_app
    from examsvc.attempts.models import Attempt
    from examsvc.camera.models import (
        ClientEvent,
        ClientEventKind,
        EntryCheck,
        EntryOutcome,
        EntryOverride,
        Snapshot,
        SnapshotStatus,
    )
    from examsvc.enums import AttemptStatus, Procedure, Role
    from examsvc.extensions import db
    from examsvc.invigilation import operations as ops
    from examsvc.invigilation.models import session_candidates
    from tests.factories import create_cycle, create_physician, create_user, resident_id
    from tests.factories_exam import create_bank, create_paper, create_window

    app = create_app(config(url, folder))
    with app.app_context():
        upgrade()
        cycle = create_cycle()
        create_bank(now=NOW)
        paper = create_paper(cycle.id, NOW)
        window = create_window(paper, NOW - timedelta(hours=2), hours=48)
        halls = [ops.create_session(window, f"第{n + 1}考场", None) for n in range(sessions)]
        admin = create_user(Role.ADMIN)
        people = [
            create_physician(
                cycle,
                Procedure.SIMPLE,
                id_number=resident_id(n % 1000, birth=f"19{70 + n // 1000}0101"),
                name=f"考生{n:04d}",
            )
            for n in range(candidates)
        ]
        db.session.execute(
            sa.insert(session_candidates),
            [
                {"session_id": halls[n % sessions].id, "physician_id": p.id}
                for n, p in enumerate(people)
            ],
        )
        started = NOW - timedelta(minutes=30)
        attempts = [
            {
                "physician_id": p.id,
                "paper_id": paper.id,
                "window_id": window.id,
                "number": 1,
                "status": AttemptStatus.SUBMITTED if n % 25 == 24 else AttemptStatus.IN_PROGRESS,
                "open_slot": None if n % 25 == 24 else f"{p.id}:{paper.id}",
                "seed": n,
                "started_at": started,
                "deadline_at": started + timedelta(minutes=60),
                "submitted_at": NOW if n % 25 == 24 else None,
                "total_points": 100,
            }
            for n, p in enumerate(people)
        ]
        db.session.execute(sa.insert(Attempt), attempts)
        ids = dict(db.session.execute(sa.select(Attempt.physician_id, Attempt.id)).all())
        snapshots, events, checks, overrides = [], [], [], []
        flagged = [
            s for s in SnapshotStatus if s not in (SnapshotStatus.OK, SnapshotStatus.PENDING)
        ]
        for n, p in enumerate(people):
            attempt_id = ids[p.id]
            for m in range(30):
                at = started + timedelta(minutes=m, seconds=20)
                k = n * 30 + m
                status = flagged[k % len(flagged)] if k % 20 == 7 else SnapshotStatus.OK
                snapshots.append(
                    {
                        "attempt_id": attempt_id,
                        "received_at": at,
                        "taken_at": at,
                        "path": f"snapshots/{attempt_id}/{k}.jpg",
                        "size": 30_000,
                        "status": status,
                        "flags": [] if status == SnapshotStatus.OK else [status.value],
                        "distance": 0.31,
                        "measurements": {"face_count": 1},
                        "analysed_at": at,
                        "reviewed_at": NOW if k % 40 == 7 else None,
                        "reviewed_by": admin.id if k % 40 == 7 else None,
                    }
                )
            kinds = [ClientEventKind.HIDDEN, ClientEventKind.VISIBLE] * 5
            kinds += [ClientEventKind.BLUR, ClientEventKind.FOCUS] * 3
            if n % 5 == 0:
                kinds += [ClientEventKind.DISCONNECTED, ClientEventKind.RECONNECTED]
            else:
                kinds += [ClientEventKind.FULLSCREEN_EXIT, ClientEventKind.FULLSCREEN_ENTER]
            if n % 10 == 0:
                kinds += [ClientEventKind.CAMERA_STOPPED, ClientEventKind.CAMERA_STARTED]
            else:
                kinds += [ClientEventKind.BLUR, ClientEventKind.FOCUS]
            if n % 25 == 3:
                kinds.append(ClientEventKind.DISCONNECTED)
            if n % 25 == 4:
                kinds.append(ClientEventKind.CAMERA_STOPPED)
            for m, kind in enumerate(kinds):
                at = started + timedelta(minutes=m, seconds=40)
                events.append(
                    {
                        "attempt_id": attempt_id,
                        "kind": kind,
                        "at": at,
                        "client_at": at,
                        "details": {},
                    }
                )
            checks.append(
                {
                    "physician_id": p.id,
                    "paper_id": paper.id,
                    "attempt_id": attempt_id,
                    "checked_at": started,
                    "outcome": EntryOutcome.REVIEW if n % 50 == 0 else EntryOutcome.PASSED,
                    "distance": 0.3,
                    "decision": {},
                    "frames": [],
                }
            )
            if n % 100 == 0:
                overrides.append(
                    {
                        "physician_id": p.id,
                        "granted_by": admin.id,
                        "granted_at": started,
                        "reason": "已核实",
                    }
                )
        db.session.execute(sa.insert(Snapshot), snapshots)
        db.session.execute(sa.insert(ClientEvent), events)
        db.session.execute(sa.insert(EntryCheck), checks)
        db.session.execute(sa.insert(EntryOverride), overrides)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))
        else:
            with db.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE"))
        print(
            f"built: {candidates} candidates in {sessions} sessions, {len(snapshots)} snapshots,"
            f" {len(events)} page events, {len(checks)} entry checks, {len(overrides)} overrides",
            flush=True,
        )


def config(url: str, folder: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": url,
        "DATA_DIR": str(folder / "data"),
        "ROSTER_PULL_INTERVAL": 0,
        "SECRET_KEY": "bench-cards",
    }


def measure(url: str, folder: Path, pushes: int, out: Path) -> None:
    """In a process of its own, with the code to measure first on ``sys.path``."""
    import sqlalchemy as sa

    from examsvc import create_app
    from examsvc.attempts.models import Attempt
    from examsvc.extensions import db
    from examsvc.invigilation import queries
    from examsvc.invigilation.models import ExamSession

    app = create_app(config(url, folder))
    counted = [0]

    def count(*_: Any) -> None:
        counted[0] += 1

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
        attempt_ids = list(db.session.scalars(sa.select(Attempt.id).order_by(Attempt.id)))
        session_ids = list(db.session.scalars(sa.select(ExamSession.id).order_by(ExamSession.id)))
        db.session.remove()

        pauses = "pause" in inspect.signature(queries.card_updates).parameters

        def push() -> tuple[dict[int, list[dict[str, Any]]], float, float, float, int]:
            counted[0] = 0
            held: list[float] = []
            mark = [time.process_time()]

            def pause() -> None:  # where push_cards lets the loop go
                now = time.process_time()
                held.append(now - mark[0])
                mark[0] = now

            cpu, wall = time.process_time(), time.perf_counter()
            shown: dict[int, list[dict[str, Any]]] = {}
            if pauses:  # this code yields between its statements (``pause``)
                updates: Any = queries.card_updates(attempt_ids, NOW, pause=pause)
            else:
                updates = queries.card_updates(attempt_ids, NOW)
            for session_id, cards in updates.items() if isinstance(updates, dict) else updates:
                pause()  # push_cards yields between sessions
                shown[session_id] = [c.as_dict() for c in cards]
                mark[0] = time.process_time()  # the emits are not the subject
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            statements = counted[0]
            db.session.remove()  # the push's read ends
            return shown, cpu, wall, max(held), statements

        push()
        runs = [push() for _ in range(pushes)]
        renders: list[float] = []
        render_statements = 0
        for session_id in session_ids:
            session = db.session.get(ExamSession, session_id)
            counted[0] = 0
            cpu = time.process_time()
            queries.cards(session, NOW)
            renders.append(time.process_time() - cpu)
            render_statements = max(render_statements, counted[0])
            db.session.remove()
    shown = runs[0][0]
    for cards in shown.values():
        for card in cards:
            card["thumb"] = bool(card["thumb"])
    out.write_text(
        json.dumps(
            {
                "cpu": [r[1] for r in runs],
                "wall": [r[2] for r in runs],
                "hold": [r[3] for r in runs],
                "statements": runs[0][4],
                "render": renders,
                "render_statements": render_statements,
                "cards": {str(k): v for k, v in shown.items()},
            }
        )
    )


def unpack(rev: str, folder: Path) -> Path:
    """The tree of commit ``rev`` in ``folder``."""
    target = folder / f"code-{rev}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryFile() as tmp:
        tmp.write(archive)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(target, filter="data")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=25)
    parser.add_argument("--pushes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", default=None, help="a commit to compare with")
    parser.add_argument("--database-url", default=os.environ.get("EXAMSVC_DATABASE_URL"))
    parser.add_argument(
        "--measure", nargs=3, metavar=("URL", "FOLDER", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure:
        url, folder, out = args.measure
        measure(url, Path(folder), args.pushes, Path(out))
        return

    sys.path.insert(0, str(REPO))
    from bench.bench_save import database

    folder = Path(tempfile.mkdtemp(prefix="bench-cards-"))
    url = database(args.database_url, folder, BENCH_DB)
    print("load average before:", *(round(n, 2) for n in os.getloadavg()), flush=True)
    build(url, folder, args.candidates, args.sessions)
    codes = {"after": REPO}
    if args.before:
        codes = {"before": unpack(args.before, folder), "after": REPO}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    for round_ in range(args.rounds):
        for name, code in codes.items():
            out = folder / f"{name}-{round_}.json"
            env = os.environ | {"PYTHONPATH": str(code)}
            subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--pushes",
                    str(args.pushes),
                    "--measure",
                    url,
                    str(folder),
                    str(out),
                ],
                check=True,
                env=env,
                cwd=code,
            )
            results[name].append(json.loads(out.read_text()))
            print(
                f"round {round_ + 1} {name}: push CPU ms mean"
                f" {statistics.fmean(results[name][-1]['cpu']) * 1000:.1f}",
                flush=True,
            )
    print("load average after:", *(round(n, 2) for n in os.getloadavg()))
    print(
        f"{args.candidates} candidates in {args.sessions} sessions, {args.pushes} pushes x {args.rounds} rounds"
    )
    for name, runs in results.items():
        cpu = [x * 1000 for r in runs for x in r["cpu"]]
        wall = [x * 1000 for r in runs for x in r["wall"]]
        hold = [x * 1000 for r in runs for x in r["hold"]]
        render = [x * 1000 for r in runs for x in r["render"]]
        rounds = " / ".join(f"{statistics.fmean(r['cpu']) * 1000:.1f}" for r in runs)
        print(
            f"{name:6} push CPU ms mean {statistics.fmean(cpu):6.1f} p50 {statistics.median(cpu):6.1f}"
            f" (rounds {rounds}) | wall ms {statistics.fmean(wall):6.1f}"
            f" | longest hold ms {statistics.median(hold):6.1f}"
            f" | statements {runs[0]['statements']}"
            f" || render of a session: CPU ms {statistics.median(render):5.2f},"
            f" statements {runs[0]['render_statements']}"
        )
    if "before" in results:
        same = results["before"][0]["cards"] == results["after"][0]["cards"]
        print("cards identical (thumb tokens aside):", same)
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
