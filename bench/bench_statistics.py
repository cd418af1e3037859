"""How fast the progress and statistics pages count a province: 300,000 physicians.

    createdb -h 127.0.0.1 -U postgres examsvc_bench_stats   # once
    .venv/bin/python bench/bench_statistics.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1/examsvc_bench_stats \\
        [--physicians 300000] [--snapshots 8] [--runs 3] [--keep]

Migrates the (empty) database, then builds the cycle in bulk SQL (``INSERT … SELECT`` over
``generate_series``, no ORM objects): a humanities paper and four professional ones (one
per practice category, behind the humanities paper), regular windows open at the bench's
``now`` and makeup windows to come; 300,000 physicians of 2,000 institutions and 12
departments (60 % simple procedure; a few exempt, withdrawn, with pending or failed
evaluations); about 1.1 attempts each (humanities: passed, failed, voided, in progress,
a second try for some; the professional paper for most of those in the general procedure
who passed) and their tallies (``attempts.tallies.recount``), ``--snapshots`` snapshots per attempt (one attempt in thirty flagged), a
warning for one in two hundred and a delivered result for a third of those who passed.
Then times each statistics query (``examsvc.statistics.queries``) with no filter, one
institution, one paper, and prints a table of the median of ``--runs`` runs. PostgreSQL
only (``generate_series``). The database is emptied at the start unless ``--keep`` finds
the data already there (else the database's schema is dropped and migrated afresh).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NOW = datetime(2026, 5, 15, 2, 0, tzinfo=UTC)


def build(physicians: int, snapshots: int) -> None:
    import sqlalchemy as sa

    from examsvc.attempts.models import PaperTally
    from examsvc.attempts.tallies import COLUMNS, recount
    from examsvc.enums import PaperKind, WindowRound
    from examsvc.extensions import db
    from examsvc.papers.models import Paper
    from tests.factories import create_cycle
    from tests.factories_exam import create_bank, create_paper, create_window

    cycle = create_cycle("BENCH")
    create_bank(now=NOW)
    create_bank("prof", kind=PaperKind.PROFESSIONAL, now=NOW)
    hum = create_paper(cycle.id, NOW, attempt_limit_simple=3, attempt_limit_general=1)
    papers = [hum]
    for code, category in (
        ("PRC", "clinical"),
        ("PRD", "dental"),
        ("PRP", "public_health"),
        ("PRT", "tcm"),
    ):
        papers.append(
            create_paper(
                cycle.id,
                NOW,
                code=code,
                kind="professional",
                bank="prof",
                practice_categories=[category],
                prerequisite="HUM",
            )
        )
    for paper in papers:
        create_window(paper, NOW - timedelta(days=5), hours=24 * 10)
        create_window(paper, NOW + timedelta(days=20), hours=24 * 5, round=WindowRound.MAKEUP)
    db.session.commit()
    regular = {p.id: w.id for p in papers for w in p.windows if w.round == WindowRound.REGULAR}
    params: dict[str, Any] = {
        "n": physicians,
        "cycle": cycle.id,
        "now": NOW,
        "hum": hum.id,
        "hum_window": regular[hum.id],
    }
    steps: list[tuple[str, Any]] = [
        (
            "users",
            """INSERT INTO users (role, login, display_name, password_hash, must_change_password,
                   active, session_version, created_at)
               SELECT 'physician', 'bench' || g, '医师' || g, 'x', false, true, 0, :now
               FROM generate_series(1, :n) g""",
        ),
        (
            "physicians",
            """INSERT INTO physicians (cycle_id, registration_id, user_id, status, id_type,
                   id_number, id_key, name, institution_code, institution_name, department,
                   practice_category, physician_level, procedure, exempt_humanities,
                   exempt_professional, eval_work_performance, eval_ethics, photo_status,
                   time_allowance_minutes, created_at, updated_at)
               SELECT :cycle, 'R' || lpad(u.id::text, 8, '0'), u.id,
                   CASE WHEN u.id % 100 = 0 THEN 'withdrawn' ELSE 'approved' END,
                   'resident_id', '43010219800101' || lpad((u.id % 10000)::text, 4, '0'),
                   'K' || u.id, '医师' || u.id,
                   'I' || lpad((u.id % 2000)::text, 4, '0'), '医院' || (u.id % 2000),
                   '科室' || (u.id % 12),
                   (ARRAY['clinical','clinical','clinical','clinical','clinical','clinical',
                          'dental','public_health','tcm','tcm'])[1 + u.id % 10],
                   CASE WHEN u.id % 5 = 0 THEN 'assistant' ELSE 'physician' END,
                   CASE WHEN (u.id / 10) % 10 < 6 THEN 'simple' ELSE 'general' END,
                   u.id % 97 = 1, u.id % 89 = 1,
                   CASE WHEN u.id % 101 = 3 THEN 'fail' WHEN u.id % 53 = 4 THEN 'pending'
                        ELSE 'pass' END,
                   'pass', 'ok', 0, :now, :now
               FROM users u WHERE u.login LIKE 'bench%'""",
        ),
        (
            "humanities attempts",
            # 85 % tried: 2 % in progress, 1 % voided, 22 % failed, the rest passed.
            """INSERT INTO attempts (physician_id, paper_id, window_id, number, status, open_slot,
                   seed, started_at, deadline_at, submitted_at, submit_reason, last_seq,
                   total_points, earned_points, score, passed)
               SELECT p.id, :hum, :hum_window, 1, s.status,
                   CASE WHEN s.status = 'in_progress' THEN p.id || ':' || :hum END,
                   p.id, s.started, s.started + interval '1 hour',
                   CASE WHEN s.status <> 'in_progress' THEN s.started + interval '50 minutes' END,
                   CASE WHEN s.status = 'submitted' THEN 'candidate'
                        WHEN s.status = 'voided' THEN 'invigilator' END,
                   0, 100, s.score, s.score,
                   CASE WHEN s.status = 'in_progress' THEN NULL ELSE s.score >= 60 END
               FROM physicians p
               CROSS JOIN LATERAL (SELECT
                   CASE WHEN (p.id * 7) % 100 < 2 THEN 'in_progress'
                        WHEN (p.id * 7) % 100 < 3 THEN 'voided' ELSE 'submitted' END AS status,
                   CASE WHEN (p.id * 7) % 100 < 3 THEN NULL
                        WHEN (p.id * 7) % 100 < 25 THEN 20 + (p.id * 13) % 40
                        ELSE 60 + (p.id * 13) % 41 END AS score,
                   :now - interval '4 days' + (p.id % 5000) * interval '1 minute' AS started
               ) s
               WHERE p.cycle_id = :cycle AND (p.id * 31) % 100 < 85
                   AND NOT (p.procedure = 'simple' AND p.exempt_humanities)""",
        ),
        (
            "second humanities attempts",
            """INSERT INTO attempts (physician_id, paper_id, window_id, number, status, open_slot,
                   seed, started_at, deadline_at, submitted_at, submit_reason, last_seq,
                   total_points, earned_points, score, passed)
               SELECT a.physician_id, a.paper_id, a.window_id, 2, 'submitted', NULL, a.id,
                   a.started_at + interval '1 day', a.started_at + interval '1 day 1 hour',
                   a.started_at + interval '1 day 40 minutes', 'candidate', 0, 100,
                   50 + (a.id * 17) % 51, 50 + (a.id * 17) % 51, 50 + (a.id * 17) % 51 >= 60
               FROM attempts a JOIN physicians p ON p.id = a.physician_id
               WHERE a.paper_id = :hum AND a.passed IS false AND p.procedure = 'simple'
                   AND a.id % 2 = 0""",
        ),
        (
            "professional attempts",
            # Most of those in the general procedure who passed sit their professional paper.
            """INSERT INTO attempts (physician_id, paper_id, window_id, number, status, open_slot,
                   seed, started_at, deadline_at, submitted_at, submit_reason, last_seq,
                   total_points, earned_points, score, passed)
               SELECT p.id, x.paper_id, w.id, 1, s.status,
                   CASE WHEN s.status = 'in_progress' THEN p.id || ':' || x.paper_id END,
                   p.id, s.started, s.started + interval '1 hour',
                   CASE WHEN s.status <> 'in_progress' THEN s.started + interval '55 minutes' END,
                   CASE WHEN s.status = 'submitted' THEN 'candidate'
                        WHEN s.status = 'voided' THEN 'invigilator' END,
                   0, 100, s.score, s.score,
                   CASE WHEN s.status = 'in_progress' THEN NULL ELSE s.score >= 60 END
               FROM physicians p
               JOIN attempts h ON h.physician_id = p.id AND h.paper_id = :hum AND h.passed
               JOIN paper_assignments x ON x.cycle_id = p.cycle_id AND x.kind = 'professional'
                   AND x.practice_category = p.practice_category
                   AND x.physician_level = p.physician_level
               JOIN exam_windows w ON w.paper_id = x.paper_id AND w.round = 'regular'
               CROSS JOIN LATERAL (SELECT
                   CASE WHEN (p.id * 11) % 100 < 3 THEN 'in_progress'
                        WHEN (p.id * 11) % 100 < 4 THEN 'voided' ELSE 'submitted' END AS status,
                   CASE WHEN (p.id * 11) % 100 < 4 THEN NULL
                        ELSE 35 + (p.id * 19) % 66 END AS score,
                   h.started_at + interval '2 hours' AS started
               ) s
               WHERE p.procedure = 'general' AND NOT p.exempt_professional
                   AND (p.id * 3) % 10 < 7""",
        ),
        (
            # What the attempt operations keep (attempts.tallies.retally), in one statement.
            "paper tallies",
            sa.insert(PaperTally.__table__).from_select(COLUMNS, recount()),
        ),
        (
            "snapshots",
            """INSERT INTO snapshots (attempt_id, received_at, path, size, status, flags,
                   measurements)
               SELECT a.id, a.started_at + k * interval '5 minutes', NULL, 40000,
                   CASE WHEN k = 3 AND a.id % 30 = 0 THEN 'mismatch' ELSE 'ok' END,
                   CASE WHEN k = 3 AND a.id % 30 = 0 THEN '["mismatch"]' ELSE '[]' END::json,
                   '{}'::json
               FROM attempts a CROSS JOIN generate_series(1, :snapshots) k""",
        ),
        (
            "warnings",
            """INSERT INTO proctor_warnings (attempt_id, sent_by, sent_at, message)
               SELECT a.id, (SELECT min(id) FROM users), a.started_at + interval '10 minutes',
                   '请正对摄像头'
               FROM attempts a WHERE a.id % 200 = 7""",
        ),
        (
            "result deliveries",
            """INSERT INTO result_deliveries (cycle_id, physician_id, round, verdict, payload,
                   digest, idempotency_key, decided_at, queued_at, status, tries, next_try_at,
                   delivered_at)
               SELECT :cycle, a.physician_id, 'regular', 'pass', '{}'::json,
                   md5(a.id::text), md5('k' || a.id), a.submitted_at, a.submitted_at,
                   'delivered', 1, NULL, a.submitted_at + interval '1 minute'
               FROM attempts a WHERE a.passed AND a.paper_id = :hum AND a.id % 3 = 0""",
        ),
    ]
    params["snapshots"] = snapshots
    for name, sql in steps:
        started = time.perf_counter()
        if isinstance(sql, str):
            result = db.session.execute(sa.text(sql), params)
        else:  # a statement built by the code (no parameters)
            result = db.session.execute(sql)
        db.session.commit()
        print(f"  {name}: {result.rowcount:,} rows, {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"  vacuum analyze: {time.perf_counter() - started:.1f} s")
    assert db.session.scalar(sa.select(sa.func.count(Paper.id))) == len(papers)


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--physicians", type=int, default=300_000)
    parser.add_argument("--snapshots", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="reuse the data already built")
    args = parser.parse_args()

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from examsvc import create_app
    from examsvc.clock import FrozenClock
    from examsvc.extensions import db
    from examsvc.roster.models import Cycle, Physician
    from examsvc.statistics import queries
    from examsvc.statistics.queries import Drill
    from examsvc.statistics.schemas import StatisticsFilter

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": args.database_url,
            "DATA_DIR": "/tmp/examsvc-bench-stats",
            "CLOCK": FrozenClock(NOW),
        }
    )
    with app.app_context():
        built = False
        if args.keep:
            try:
                built = db.session.scalar(sa.select(Cycle.id).where(Cycle.code == "BENCH"))
            except sa.exc.ProgrammingError:
                db.session.rollback()
        if not built:
            db.session.remove()
            with db.engine.begin() as conn:  # a fresh schema, whatever was there
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            upgrade()
            started = time.perf_counter()
            print(f"building {args.physicians:,} physicians …")
            build(args.physicians, args.snapshots)
            print(f"built in {time.perf_counter() - started:.1f} s")
        else:
            upgrade()
        cycle = db.session.scalars(sa.select(Cycle).where(Cycle.code == "BENCH")).one()
        institution = db.session.scalar(sa.select(sa.func.min(Physician.institution_code)))
        paper = queries.papers(cycle.id)[0]
        counts = {
            "physicians": db.session.scalar(sa.text("SELECT count(*) FROM physicians")),
            "attempts": db.session.scalar(sa.text("SELECT count(*) FROM attempts")),
            "snapshots": db.session.scalar(sa.text("SELECT count(*) FROM snapshots")),
        }
        print(", ".join(f"{v:,} {k}" for k, v in counts.items()))
        filters = {
            "none": StatisticsFilter(),
            "one institution": StatisticsFilter(institution=institution),
            f"paper {paper.code}": StatisticsFilter(paper=paper.id),
        }
        print(f"\n| query | {' | '.join(filters)} |")
        print(f"|---|{'---:|' * len(filters)}")
        cases: list[tuple[str, Callable[[StatisticsFilter], Any]]] = [
            (
                "figures (both pages: every count, states, score bands)",
                lambda f: queries.figures(cycle.id, f, NOW),
            ),
            (
                "drill-down 不合格, page 1",
                lambda f: queries.people(cycle.id, f, Drill(figure="failed"), NOW, page=1, size=50),
            ),
            (
                "drill-down 未开始, page 100",
                lambda f: queries.people(
                    cycle.id, f, Drill(figure="not_started"), NOW, page=100, size=50
                ),
            ),
            (
                "drill-down 监考异常, page 1",
                lambda f: queries.people(
                    cycle.id, f, Drill(figure="flagged"), NOW, page=1, size=50
                ),
            ),
            (
                "drill-down paper state 合格, page 1",
                lambda f: queries.people(
                    cycle.id, f, Drill(paper=paper.id, state="passed"), NOW, page=1, size=50
                ),
            ),
            ("institutions (the filter's list)", lambda f: queries.institutions(cycle.id)),
        ]
        for label, fn in cases:
            cells = []
            for f in filters.values():
                seconds, _ = timed(lambda fn=fn, f=f: fn(f), args.runs)
                db.session.rollback()
                cells.append(f"{seconds * 1000:,.0f} ms")
            print(f"| {label} | {' | '.join(cells)} |")
        figures = queries.figures(cycle.id, StatisticsFilter(), NOW)
        print("\nfigures, no filter:", figures.counts)


if __name__ == "__main__":
    main()
