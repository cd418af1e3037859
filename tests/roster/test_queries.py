"""The current cycle's one rule (``current_cycle_select``): the configured cycle, else the
latest to start; the same whether the code is a value (``current_cycle``) or a bind
parameter in a statement built once (the hot ownership query, ``attempts.api._OWN``)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from examsvc.extensions import db
from examsvc.roster.models import Cycle
from examsvc.roster.queries import configured_cycle, current_cycle, current_cycle_select
from tests.factories import create_cycle

BY_CODE = current_cycle_select(Cycle.id, code=sa.bindparam("cycle"))
LATEST = current_cycle_select(Cycle.id, code=None)


def bound(code: str | None) -> int | None:
    """The current cycle's id as the hot query's subquery decides it."""
    if code is None:
        return db.session.scalar(LATEST)
    return db.session.scalar(BY_CODE, {"cycle": code})


def test_the_configured_cycle_else_the_latest_to_start_bound_or_not(app):
    older = create_cycle("HN-2026")
    newer = create_cycle("HN-2029", starts_on=date(2027, 1, 1), ends_on=date(2029, 12, 31))
    db.session.commit()
    for setting, expected in ((None, newer), ("", newer), ("HN-2026", older), ("HN-2029", newer)):
        app.config["REGISTRY_CYCLE"] = setting
        code = configured_cycle()
        assert code == (setting or None)
        assert current_cycle() is expected
        assert bound(code) == expected.id
    app.config["REGISTRY_CYCLE"] = "HN-2099"  # configured but not (yet) pulled: none
    assert current_cycle() is None and bound(configured_cycle()) is None
