"""Which paper counts for a physician in a cycle (``papers.queries.counting_order`` and
``counting_paper``): each of its four users — the rules' one-statement read
(``operations.chosen_papers``), the ORM read (``papers.queries.papers_for``), the stored
counts (``tallies.recount``) and the verdict in SQL (``queries.physician_papers``) — chooses
as the rule stated here in plain Python on plain data, over its tie-breaks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from examsvc.attempts import operations as ops
from examsvc.attempts.models import Attempt, PaperTally
from examsvc.attempts.queries import KINDS, physician_papers
from examsvc.attempts.tallies import recount
from examsvc.enums import PaperKind, PracticeCategory, Procedure
from examsvc.extensions import db
from examsvc.papers.models import Paper, PaperAssignment
from examsvc.papers.queries import papers_for
from examsvc.roster.models import Physician
from tests.factories import create_cycle, create_physician
from tests.factories_exam import create_attempt, create_bank, create_paper, create_window
from tests.statements import recorded_statements

HUM, PROF = PaperKind.HUMANITIES, PaperKind.PROFESSIONAL

# (paper_id, kind, the paper's cycle, passed, started_at): an attempt as plain data.
Sitting = tuple[int, PaperKind, int, bool | None, datetime]


def counting_rule(
    sittings: list[Sitting], assigned: dict[PaperKind, int], cycle_id: int
) -> dict[PaperKind, int]:
    """The rule in plain words: per kind, of the attempts at papers of the physician's
    cycle, the latest passed one's paper; with none passed, the latest one's (voided and
    open too); at equal starts the higher paper id; with no attempt of the kind, the paper
    assigned to the physician's slot."""
    chosen = {}
    for kind in PaperKind:
        mine = [s for s in sittings if s[1] == kind and s[2] == cycle_id]
        pool = [s for s in mine if s[3]] or mine
        if pool:
            chosen[kind] = max(pool, key=lambda s: (s[4], s[0]))[0]
        elif kind in assigned:
            chosen[kind] = assigned[kind]
    return chosen


def rule_in_python(physician: Physician) -> dict[PaperKind, int]:
    """``counting_rule`` on the physician's attempts and slot, read as plain rows."""
    sittings = [
        (paper_id, kind, cycle_id, passed, started)
        for paper_id, kind, cycle_id, passed, started in db.session.execute(
            sa.select(Attempt.paper_id, Paper.kind, Paper.cycle_id, Attempt.passed)
            .add_columns(Attempt.started_at)
            .join(Paper, Paper.id == Attempt.paper_id)
            .where(Attempt.physician_id == physician.id)
        )
    ]
    assigned = {
        kind: paper_id
        for kind, paper_id in db.session.execute(
            sa.select(PaperAssignment.kind, PaperAssignment.paper_id).where(
                PaperAssignment.cycle_id == physician.cycle_id,
                PaperAssignment.practice_category == physician.practice_category,
                PaperAssignment.physician_level == physician.physician_level,
            )
        )
    }
    return counting_rule(sittings, assigned, physician.cycle_id)


def attempted_rule(physician: Physician) -> dict[PaperKind, int]:
    """``rule_in_python`` among the papers attempted alone (what ``PaperTally.counts`` marks)."""
    kinds = set(
        db.session.scalars(
            sa.select(Paper.kind)
            .join(Attempt, Attempt.paper_id == Paper.id)
            .where(Attempt.physician_id == physician.id, Paper.cycle_id == physician.cycle_id)
        )
    )
    return {k: v for k, v in rule_in_python(physician).items() if k in kinds}


def chosen_by_each(physician: Physician, now: datetime) -> dict[str, dict[PaperKind, int]]:
    """What each user of the rule chooses for the physician, per kind."""
    stored = db.session.execute(
        sa.select(PaperTally.kind, PaperTally.paper_id).where(
            PaperTally.physician_id == physician.id, PaperTally.counts
        )
    )
    recounted = recount(Attempt.physician_id == physician.id).subquery()
    verdict = db.session.execute(
        sa.select(physician_papers(now, Physician.id == physician.id))
    ).one()
    return {
        "chosen_papers": {p.kind: p.id for p in ops.chosen_papers(physician)},
        "papers_for": {p.kind: p.id for p in papers_for(physician)},
        "verdict": {
            kind: verdict._mapping[f"{k}_paper"]
            for kind, k in KINDS.items()
            if verdict._mapping[f"{k}_paper"] is not None
        },
        "stored": {kind: paper_id for kind, paper_id in stored},
        "recount": {
            kind: paper_id
            for kind, paper_id in db.session.execute(
                sa.select(recounted.c.kind, recounted.c.paper_id).where(recounted.c.counts)
            )
        },
    }


@pytest.fixture
def cases(app, clock) -> dict[str, Any]:
    """Physicians of the general procedure (both kinds required) with two papers of each
    kind: ``HUM`` and ``PRC`` (clinical physicians only) assigned, ``HUM2`` and ``PR2`` (for
    everyone) not; each case with the codes that must count."""
    t0 = clock.now()
    cycle, earlier = create_cycle(), create_cycle("HN-2023")
    create_bank(now=t0)
    create_bank("prof", kind=PROF, now=t0)
    paper = {
        "HUM": create_paper(cycle.id, t0),
        "PRC": create_paper(
            cycle.id,
            t0,
            code="PRC",
            kind="professional",
            bank="prof",
            practice_categories=["clinical"],
        ),
        "HUM2": create_paper(cycle.id, t0, code="HUM2"),
        "PR2": create_paper(cycle.id, t0, code="PR2", kind="professional", bank="prof"),
        "OLD": create_paper(earlier.id, t0, code="OLD"),  # another cycle's humanities paper
    }
    window = {
        code: create_window(p, t0 - timedelta(hours=2), hours=26) for code, p in paper.items()
    }
    # HUM took every slot before HUM2 was saved; PR2 took those PRC leaves: free them, so
    # that a dental physician has no professional paper assigned.
    db.session.execute(
        sa.delete(PaperAssignment).where(PaperAssignment.paper_id == paper["PR2"].id)
    )

    def sat(code: str, outcome: str, minutes_ago: int) -> tuple[str, str, datetime]:
        return (code, outcome, t0 - timedelta(minutes=minutes_ago))

    spec: dict[str, tuple[dict[PaperKind, str], list[tuple[str, str, datetime]], dict]] = {
        "no attempt: the assigned papers": ({HUM: "HUM", PROF: "PRC"}, [], {}),
        "nothing assigned, nothing attempted": (
            {HUM: "HUM"},
            [],
            {"practice_category": PracticeCategory.DENTAL},
        ),
        "attempted, not assigned": (
            {HUM: "HUM", PROF: "PR2"},
            [sat("PR2", "failed", 30)],
            {"practice_category": PracticeCategory.DENTAL},
        ),
        "two passed: the latest": (
            {HUM: "HUM2", PROF: "PRC"},
            [sat("HUM", "passed", 50), sat("HUM2", "passed", 20)],
            {},
        ),
        "two passed: the latest, the lower id": (
            {HUM: "HUM", PROF: "PRC"},
            [sat("HUM2", "passed", 50), sat("HUM", "passed", 20)],
            {},
        ),
        "two passed at once: the higher id": (
            {HUM: "HUM2", PROF: "PRC"},
            [sat("HUM", "passed", 30), sat("HUM2", "passed", 30)],
            {},
        ),
        "passed before a later fail": (
            {HUM: "HUM", PROF: "PRC"},
            [sat("HUM", "passed", 50), sat("HUM2", "failed", 20)],
            {},
        ),
        "passed before a later void": (
            {HUM: "HUM2", PROF: "PRC"},
            [sat("HUM2", "passed", 50), sat("HUM", "voided", 20)],
            {},
        ),
        "passed on an earlier attempt, failed since": (
            {HUM: "HUM", PROF: "PRC"},
            [sat("HUM", "passed", 50), sat("HUM2", "failed", 40), sat("HUM", "failed", 10)],
            {},
        ),
        "none passed: the latest, voided": (
            {HUM: "HUM2", PROF: "PRC"},
            [sat("HUM", "failed", 50), sat("HUM2", "voided", 20)],
            {},
        ),
        "none passed: the latest, open": (
            {HUM: "HUM2", PROF: "PRC"},
            [sat("HUM", "failed", 50), sat("HUM2", "in_progress", 20)],
            {},
        ),
        "none passed: the paper of the latest attempt": (
            {HUM: "HUM", PROF: "PRC"},
            [sat("HUM", "failed", 50), sat("HUM2", "failed", 40), sat("HUM", "voided", 10)],
            {},
        ),
        "none passed, at once: the higher id": (
            {HUM: "HUM2", PROF: "PRC"},
            [sat("HUM2", "failed", 30), sat("HUM", "failed", 30)],
            {},
        ),
        "another cycle's paper never counts": (
            {HUM: "HUM", PROF: "PRC"},
            [sat("OLD", "passed", 10)],
            {},
        ),
        "each kind on its own": (
            {HUM: "HUM", PROF: "PR2"},
            [
                sat("PR2", "passed", 50),
                sat("PRC", "failed", 20),
                sat("HUM2", "voided", 40),
                sat("HUM", "failed", 30),
            ],
            {},
        ),
    }
    people = {}
    for name, (expected, sittings, kw) in spec.items():
        p = create_physician(cycle, Procedure.GENERAL, **kw)
        for code, outcome, started in sittings:
            create_attempt(p, paper[code], window[code], outcome, started)
        people[name] = (p, {kind: paper[code].id for kind, code in expected.items()})
    db.session.commit()
    return {"people": people, "t0": t0}


def test_every_user_of_the_rule_chooses_as_the_rule_says(cases):
    for name, (physician, expected) in cases["people"].items():
        assert rule_in_python(physician) == expected, name  # the statement in Python
        chosen = chosen_by_each(physician, cases["t0"])
        attempted = {k: v for k, v in expected.items() if k in attempted_rule(physician)}
        assert chosen.pop("stored") == attempted, name
        assert chosen.pop("recount") == attempted, name
        assert chosen == dict.fromkeys(chosen, expected), name


def test_the_rule_in_python_on_plain_data():
    t = datetime(2026, 5, 1, 8)
    assigned = {HUM: 1}
    assert counting_rule([], assigned, 7) == {HUM: 1}
    assert counting_rule([(2, HUM, 7, False, t)], assigned, 7) == {HUM: 2}
    assert counting_rule([(2, HUM, 8, True, t)], assigned, 7) == {HUM: 1}  # another cycle
    later = t + timedelta(hours=1)
    two = [(2, HUM, 7, True, t), (3, HUM, 7, None, later), (4, PROF, 7, False, t)]
    assert counting_rule(two, assigned, 7) == {HUM: 2, PROF: 4}
    assert counting_rule([(3, HUM, 7, True, t), (2, HUM, 7, True, t)], {}, 7) == {HUM: 3}


def test_the_rules_read_the_papers_that_count_in_one_statement(cases):
    """The hot path (an overview, a start): one statement for every physician, whatever they
    attempted."""
    for name, (physician, expected) in cases["people"].items():
        assert physician.id  # loaded before counting
        with recorded_statements() as statements:
            chosen = ops.chosen_papers(physician)
        assert len(statements) == 1, name
        assert {p.kind: p.id for p in chosen} == expected, name
