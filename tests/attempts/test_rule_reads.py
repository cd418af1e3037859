"""The rules' narrow reads (issue #14, start CPU): the overview and a start read a few
columns in three statements (attempts, papers with windows, standing overrides) instead of
the ORM objects with their relationships — and decide exactly as the ORM objects did, over
the varied roster of test_verdict_sql and at several times, with the papers that count
chosen by the rule stated in plain Python (test_counting_papers), not by the SQL they test.
A pooled connection is pinged only after sitting idle (``extensions.ping_when_idle``)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from examsvc.attempts import operations as ops
from examsvc.attempts import rules
from examsvc.attempts.models import Attempt, PaperOverride
from examsvc.enums import AttemptStatus, OverrideKind, PaperKind
from examsvc.extensions import db, ping_when_idle
from examsvc.papers.models import ExamWindow, Paper
from examsvc.papers.queries import papers_for
from examsvc.roster.models import Physician
from tests.attempts.test_counting_papers import rule_in_python
from tests.attempts.test_verdict_sql import roster

__all__ = ["roster"]  # the fixture


def paper_facts(paper: Paper) -> rules.PaperFacts:
    return rules.PaperFacts(
        paper.id,
        paper.kind,
        paper.name,
        tuple(paper.practice_categories),
        tuple(paper.physician_levels),
        paper.attempt_limit_simple,
        paper.attempt_limit_general,
        paper.prerequisite_id,
        tuple(ops.window_facts(w) for w in paper.windows),
    )


def orm_overview(physician: Physician, now: datetime) -> ops.Overview:
    """The overview as it was read before: the ORM papers that count (chosen in Python) and
    their relationships, every attempt and override as an ORM object."""
    counting = rule_in_python(physician)
    chosen = [db.session.get(Paper, counting[kind]) for kind in PaperKind if kind in counting]
    own = {p.kind: p.id for p in chosen}
    papers = [
        replace(paper_facts(p), prerequisite_id=own.get(p.prerequisite.kind, p.prerequisite_id))
        if p.prerequisite is not None
        else paper_facts(p)
        for p in chosen
    ]
    attempts = [
        rules.AttemptFacts(
            a.paper_id,
            round_,
            a.status == AttemptStatus.IN_PROGRESS,
            a.passed,
            a.status == AttemptStatus.VOIDED,
            a.score,
            a.number,
        )
        for a, round_ in db.session.execute(
            sa.select(Attempt, ExamWindow.round)
            .join(ExamWindow, ExamWindow.id == Attempt.window_id)
            .where(Attempt.physician_id == physician.id)
        )
    ]
    granted: dict[int, rules.OverrideFacts] = {}
    for o in db.session.scalars(
        sa.select(PaperOverride)
        .where(PaperOverride.physician_id == physician.id, PaperOverride.revoked_at.is_(None))
        .order_by(PaperOverride.granted_at, PaperOverride.id)
    ):
        facts = granted.get(o.paper_id, rules.NO_OVERRIDES)
        if o.kind == OverrideKind.EXTRA_ATTEMPTS:
            facts = replace(facts, extra_attempts=facts.extra_attempts + (o.attempts or 0))
        elif o.kind == OverrideKind.WINDOW and o.window is not None:
            facts = replace(facts, windows=(*facts.windows, ops.window_facts(o.window)))
        elif o.kind == OverrideKind.MAKEUP_AFTER_VOID:
            facts = replace(facts, makeup_after_void=True)
        granted[o.paper_id] = facts
    return ops.overview_of(ops.physician_facts(physician), papers, attempts, granted, now)


@pytest.mark.parametrize("hours", [-2, 0, 30, 60, 100])
def test_the_narrow_reads_decide_as_the_orm_objects_did(roster, hours):
    now = roster["t0"] + timedelta(hours=hours)
    seen = set()
    for physician in roster["people"]:
        expected = orm_overview(physician, now)
        assert ops.overview(physician, now) == expected, physician.id
        chosen = [p.id for p in ops.chosen_papers(physician)]
        counting = rule_in_python(physician)
        assert chosen == [p.id for p in papers_for(physician)] == list(counting.values())
        seen |= {s.code for s in expected.states}
    assert len(seen) >= 5  # the roster is varied at every time


def test_the_extra_time_from_the_read_overrides_is_the_latest_standing(roster):
    """``allowance_minutes`` from the overrides already read (a start) and from its own
    read agree: the latest standing extra time at the paper, else the physician's own."""
    people, t0 = roster["people"], roster["t0"]
    physician = people[0]
    paper = db.session.get(Paper, ops.overview(physician, t0).states[0].paper.id)
    physician.time_allowance_minutes = 5
    assert ops.allowance_minutes(physician, paper.id, ops.standing_overrides(physician.id)) == 5
    for minutes, revoked in ((20, False), (30, False), (45, True)):
        override = ops.grant_override(
            physician,
            paper,
            OverrideKind.EXTRA_TIME,
            reason="视力障碍",
            actor_id=None,
            now=t0,
            allowance_cap=60,
            minutes=minutes,
        )
        if revoked:
            ops.revoke_override(override, actor_id=None, now=t0)
    read = ops.standing_overrides(physician.id)
    assert ops.allowance_minutes(physician, paper.id, read) == 30
    assert ops.allowance_minutes(physician, paper.id) == 30
    assert ops.full_minutes(physician, paper, 25, read) == paper.duration_minutes + 25


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_connection_is_pinged_only_after_sitting_idle(app, tmp_path):
    """Counted on the dialect's ping itself (the real one runs): a checkout within the idle
    time sends none, one after it sends one, a new connection none."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ping.db'}")
    clock = Clock()
    ping_when_idle(engine, 10, clock)
    pings = []
    real = engine.dialect.do_ping
    engine.dialect.do_ping = lambda conn: pings.append(1) or real(conn)  # type: ignore[method-assign]
    for step in (0, 9, 9):  # used every 9 s: never pinged
        clock.t += step
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    assert pings == []
    clock.t += 11
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert pings == [1]
    engine.dispose()


@pytest.mark.skipif(
    not os.environ.get("EXAMSVC_TEST_DATABASE_URL"), reason="PostgreSQL: a terminated backend"
)
def test_a_cut_idle_connection_is_replaced_and_a_fresh_cut_fails_once(app):
    """PostgreSQL drops the connection: after the idle time the ping finds it dead and the
    pool replaces it unseen; moments after its last use the statement fails once (the
    request is answered 503 and retried) and the pool starts afresh."""
    engine = sa.create_engine(db.engine.url, pool_size=1, max_overflow=0)
    clock = Clock()
    ping_when_idle(engine, 10, clock)

    def pid() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())

    def cut(backend: int) -> None:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": backend})

    first = pid()
    cut(first)
    clock.t += 11
    second = pid()  # pinged, found dead, replaced
    assert second != first
    cut(second)
    clock.t += 1
    with pytest.raises(sa.exc.OperationalError) as failed:
        pid()
    assert failed.value.connection_invalidated
    assert pid() not in (first, second)
    engine.dispose()
