"""Before a serving process serves, ``examsvc.warm`` does what its first candidates would
otherwise pay for: the hot reads' statements compiled, the open papers' candidate lists
read, the candidate's templates compiled. It writes nothing, and a step that fails does
not stop the process."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from examsvc import warm
from examsvc.attempts.models import Attempt, PaperTally
from examsvc.extensions import db
from examsvc.papers.operations import CANDIDATES


def _compiled(engine: sa.Engine) -> int:
    return len(engine._compiled_cache)  # SQLAlchemy's cache of compiled statements


def _start(candidate, paper_id: int) -> int:
    """Statements compiled by the first start (the engine's cache entries it adds)."""
    before = _compiled(db.engine)
    response = candidate.post(
        f"/api/v1/exam/papers/{paper_id}/attempts", json={"rules_acknowledged": True}
    )
    assert response.status_code == 201, response.get_json()
    return _compiled(db.engine) - before


def test_the_first_start_after_the_warm_up_compiles_only_its_inserts(app, candidate, exam):
    sections = len(exam["paper"].sections)
    paper_id = exam["paper"].id
    db.session.remove()
    warm.warm(app)
    kept = app.extensions[CANDIDATES]
    assert len(kept) == sections  # every section's candidate list read
    names = {key[1] for key in app.jinja_env.cache}
    assert {"attempts/exam.html", "base.html"} <= names
    # What it warmed is written nowhere.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaperTally)) == 0
    # The start still compiles the statements that write an attempt (the attempt, its
    # items, the entry verification's link) and the invigilators' card read, not the
    # reads of the start itself.
    assert _start(candidate, paper_id) <= 4
    assert len(kept) == sections  # read nothing new


def test_a_step_that_fails_is_logged_and_the_others_run(app, caplog):
    ran = []

    def broken(now):
        raise RuntimeError("database down")

    app.extensions[warm.WARMERS] = [broken, lambda now: ran.append(now)]
    with caplog.at_level(logging.WARNING, logger="examsvc.warm"):
        warm.warm(app)
    assert len(ran) == 1
    assert "broken" in caplog.text and "database down" in caplog.text
