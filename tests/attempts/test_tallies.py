"""The stored counts of attempts (``PaperTally``) are what a recount of the attempts gives,
after a mixed history through the operations: starts, submits, voids, the sweeper, a makeup."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from examsvc.attempts import operations as ops
from examsvc.attempts.models import PaperTally
from examsvc.attempts.sweeper import sweep
from examsvc.attempts.tallies import BOOLEANS, COLUMNS, recount
from examsvc.enums import Procedure, SubmitReason, WindowRound
from examsvc.extensions import db
from examsvc.roster.models import Physician
from tests.factories import create_physician
from tests.factories_exam import create_window, pass_gate
from tests.factories_exam import entry as gate_entry


def stored() -> list[tuple[Any, ...]]:
    table = PaperTally.__table__.c
    rows = db.session.execute(
        sa.select(*(table[name] for name in COLUMNS)).order_by(table.physician_id, table.paper_id)
    )
    return [normal(row._mapping) for row in rows]


def recounted() -> list[tuple[Any, ...]]:
    query = recount().subquery()
    rows = db.session.execute(sa.select(query).order_by(query.c.physician_id, query.c.paper_id))
    return [normal(row._mapping) for row in rows]


def normal(row: Any) -> tuple[Any, ...]:
    return tuple(bool(row[n]) if n in BOOLEANS | {"counts"} else row[n] for n in COLUMNS)


def tally(physician: Physician, paper_id: int) -> PaperTally:
    found = db.session.get(PaperTally, (physician.id, paper_id), populate_existing=True)
    assert found is not None
    return found


def test_the_tallies_are_a_recount_after_a_mixed_history(app, exam, clock):
    paper, first = exam["paper"], exam["physician"]
    paper.attempt_limit_simple = 3
    second = create_physician(exam["cycle"], Procedure.SIMPLE)
    makeup = create_window(
        paper, exam["window"].closes_at + timedelta(hours=1), hours=24, round=WindowRound.MAKEUP
    )
    db.session.commit()

    def start(physician: Physician) -> int:
        entry = gate_entry(pass_gate(physician, "device", clock.now()))
        attempt = ops.start_attempt(
            physician,
            paper.id,
            now=clock.now(),
            rules_acknowledged=True,
            entry=entry,
            allowance_cap=60,
        )
        db.session.commit()
        return attempt.id

    def submit(attempt_id: int) -> None:
        ops.submit_attempt(attempt_id, now=clock.now(), reason=SubmitReason.CANDIDATE)
        db.session.commit()

    def void(attempt_id: int) -> None:
        ops.void_attempt(attempt_id, now=clock.now(), reason="替考")
        db.session.commit()

    submit(start(first))  # no answer: failed, 0
    assert tally(first, paper.id).in_progress == 0 and tally(first, paper.id).submitted == 1
    void(start(first))
    start(first)
    void(start(second))
    assert tally(first, paper.id).in_progress == 1 and stored() == recounted()
    clock.advance(hours=2)  # past the deadline and the late-save grace
    assert sweep() == 1
    clock.set(makeup.opens_at + timedelta(hours=1))
    void(start(first))  # in the makeup

    assert stored() == recounted()
    mine, theirs = tally(first, paper.id), tally(second, paper.id)
    assert (mine.regular_used, mine.makeup_used, mine.submitted, mine.voided) == (3, 1, 2, 2)
    assert mine.counts and mine.last_voided and not mine.last_regular_voided  # swept last
    assert mine.best_score == 0.0 and not mine.passed and mine.in_progress == 0
    assert (theirs.regular_used, theirs.voided, theirs.last_regular_voided) == (1, 1, True)
    assert theirs.best_score is None
