"""The paper states and the verdict in SQL (``attempts.queries.paper_states``, ``verdicts``)
agree with the rules in Python (``rules.paper_state`` and ``rules.verdict`` through
``operations.overview``) over a varied roster and at several times."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from examsvc.attempts.operations import grant_override, overview, revoke_override
from examsvc.attempts.queries import SQL_STATES, paper_states, verdict_counts, verdicts
from examsvc.enums import (
    Evaluation,
    OverrideKind,
    PaperKind,
    PhysicianLevel,
    PracticeCategory,
    Procedure,
    RegistrationStatus,
    WindowRound,
)
from examsvc.extensions import db
from examsvc.papers.operations import set_attempt_limit
from examsvc.roster.models import Physician
from tests.factories import create_cycle, create_physician
from tests.factories_exam import create_attempt, create_bank, create_paper, create_window

GENERAL, SIMPLE = Procedure.GENERAL, Procedure.SIMPLE


@pytest.fixture
def roster(app, clock) -> dict[str, Any]:
    t0 = clock.now()
    cycle = create_cycle()
    create_bank(now=t0)
    create_bank("prof", kind=PaperKind.PROFESSIONAL, now=t0)
    hum = create_paper(cycle.id, t0, attempt_limit_simple=2, attempt_limit_general=1)
    h_regular = create_window(hum, t0 - timedelta(hours=1), hours=25)
    h_makeup = create_window(hum, t0 + timedelta(hours=48), hours=24, round=WindowRound.MAKEUP)
    set_attempt_limit(h_makeup, 1)  # the makeup's own limit: one attempt, whatever the procedure
    clinical = create_paper(
        cycle.id,
        t0,
        code="PRC",
        kind="professional",
        bank="prof",
        practice_categories=["clinical"],
        physician_levels=["physician"],
        prerequisite="HUM",
    )
    c_regular = create_window(clinical, t0 - timedelta(hours=1), hours=25)
    # A second humanities paper, never assigned: attempted by those who started it before a
    # re-assignment (papers_for: the passed one counts, else the latest).
    hum2 = create_paper(cycle.id, t0, code="HUM2", attempt_limit_simple=2, attempt_limit_general=1)
    h2_regular = create_window(hum2, t0 - timedelta(hours=1), hours=25)
    dental = create_paper(
        cycle.id, t0, code="PRD", kind="professional", bank="prof", practice_categories=["dental"]
    )
    create_window(dental, t0 - timedelta(hours=72), hours=24)  # over before the roster starts

    people: list[Physician] = []

    def physician(procedure: Procedure = SIMPLE, *sittings: tuple, **kw: Any) -> Physician:
        p = create_physician(cycle, procedure, **kw)
        for paper, window, outcome, *started in sittings:
            create_attempt(p, paper, window, outcome, *started)
        people.append(p)
        return p

    def grant(
        p: Physician, paper: Any, kind: OverrideKind, revoked: bool = False, **kw: Any
    ) -> None:
        override = grant_override(
            p, paper, kind, reason="因病住院", actor_id=None, now=t0, allowance_cap=60, **kw
        )
        if revoked:
            revoke_override(override, actor_id=None, now=t0)

    def own_window(round_: WindowRound, start: float, hours: float) -> Any:
        return (round_, t0 + timedelta(hours=start), t0 + timedelta(hours=start + hours))

    passed_h = (hum, h_regular, "passed")
    failed_h = (hum, h_regular, "failed")
    physician(SIMPLE, exempt_humanities=True)
    physician(SIMPLE, passed_h)
    physician(SIMPLE, passed_h, eval_ethics=Evaluation.PENDING)
    physician(SIMPLE, passed_h, eval_work_performance=Evaluation.FAIL)
    physician(SIMPLE)  # nothing sat yet
    physician(SIMPLE, failed_h)  # attempts left
    physician(SIMPLE, failed_h, failed_h)  # regular attempts used up: makeup
    physician(SIMPLE, (hum, h_regular, "voided"), failed_h)  # a voided attempt counts
    physician(SIMPLE, (hum, h_regular, "in_progress"))
    physician(SIMPLE, failed_h, failed_h, (hum, h_makeup, "failed"), (hum, h_makeup, "failed"))
    physician(SIMPLE, failed_h, failed_h, (hum, h_makeup, "passed"))
    physician(SIMPLE, failed_h, (hum2, h2_regular, "passed"))  # two papers of a kind
    physician(
        SIMPLE,
        (hum2, h2_regular, "failed", t0 - timedelta(minutes=50)),
        (hum, h_regular, "failed", t0 - timedelta(minutes=20)),
    )
    physician(SIMPLE, eval_ethics=Evaluation.FAIL, eval_work_performance=Evaluation.PENDING)
    physician(SIMPLE, passed_h, status=RegistrationStatus.WITHDRAWN)
    physician(SIMPLE, status=RegistrationStatus.WITHDRAWN)
    physician(SIMPLE, failed_h, status=RegistrationStatus.WITHDRAWN)
    physician(GENERAL)  # professional locked behind humanities
    physician(GENERAL, passed_h)  # professional open, then never sat: 缺考
    physician(GENERAL, failed_h)  # one attempt in the general procedure: makeup
    physician(GENERAL, passed_h, exempt_professional=True)
    physician(GENERAL, exempt_professional=True)
    physician(GENERAL, passed_h, (clinical, c_regular, "passed"))
    physician(GENERAL, passed_h, (clinical, c_regular, "failed"))  # no makeup window
    physician(GENERAL, passed_h, (clinical, c_regular, "voided"))  # 违纪终止, no makeup
    physician(GENERAL, passed_h, (clinical, c_regular, "in_progress"), eval_ethics="pending")
    physician(GENERAL, passed_h, practice_category=PracticeCategory.DENTAL)  # 缺考 long ago
    physician(GENERAL, passed_h, physician_level=PhysicianLevel.ASSISTANT)  # no paper of kind
    physician(
        GENERAL,
        passed_h,
        practice_category=PracticeCategory.PUBLIC_HEALTH,
        eval_work_performance=Evaluation.PENDING,
    )
    # Voids, and the agency's overrides for single physicians.
    voided_h = (hum, h_regular, "voided")
    extra, window = OverrideKind.EXTRA_ATTEMPTS, OverrideKind.WINDOW
    admit = OverrideKind.MAKEUP_AFTER_VOID
    physician(SIMPLE, failed_h, voided_h)  # the regular round ended in a void: no makeup
    grant(physician(SIMPLE, failed_h, voided_h), hum, admit)  # … unless the agency admits
    physician(GENERAL, voided_h)
    grant(physician(GENERAL, voided_h), hum, admit, revoked=True)
    grant(physician(SIMPLE, failed_h, failed_h), hum, extra, attempts=1)  # the regular again
    grant(physician(GENERAL, failed_h), hum, extra, attempts=2)  # carried into the makeup
    grant(physician(GENERAL, failed_h), hum, extra, revoked=True, attempts=1)
    grant(physician(SIMPLE), hum, window, window=own_window(WindowRound.REGULAR, 26, 14))
    grant(physician(SIMPLE), hum, window, True, window=own_window(WindowRound.REGULAR, 26, 14))
    ill = physician(SIMPLE, failed_h, failed_h, (hum, h_makeup, "failed"))
    grant(ill, hum, extra, attempts=1)
    grant(ill, hum, window, window=own_window(WindowRound.MAKEUP, 80, 40))
    cheated = physician(GENERAL, passed_h, (clinical, c_regular, "voided"))
    grant(cheated, clinical, admit)
    grant(cheated, clinical, window, window=own_window(WindowRound.MAKEUP, 26, 24))
    db.session.commit()
    return {"people": people, "cycle": cycle, "t0": t0}


def python_verdicts(people: list[Physician], now: datetime) -> dict[int, str]:
    return {p.id: overview(p, now).verdict.result for p in people}


def sql_verdicts(now: datetime) -> dict[int, str]:
    v = verdicts(now)
    return {pid: result for pid, result in db.session.execute(sa.select(v))}


def python_states(people: list[Physician], now: datetime) -> dict[tuple[int, int], tuple]:
    return {
        (p.id, s.paper.id): (s.code, s.best_score) for p in people for s in overview(p, now).states
    }


# The states whose PaperState carries no best score (the SQL gives it wherever one exists).
NO_SCORE = {"exempt", "closed", "locked"}


def sql_states(now: datetime) -> dict[tuple[int, int], tuple]:
    s = paper_states(now)
    return {
        (pid, paper): (code, None if code in NO_SCORE else best)
        for pid, paper, state, best in db.session.execute(sa.select(s))
        for code in [SQL_STATES[state]]
    }


@pytest.mark.parametrize(
    "hours",
    [-2, 0, 30, 60, 100],
    ids=["before", "regular-open", "between", "makeup-open", "all-over"],
)
def test_sql_and_python_verdicts_agree(roster, hours):
    now = roster["t0"] + timedelta(hours=hours)
    expected = python_verdicts(roster["people"], now)
    assert sql_verdicts(now) == expected
    assert sql_states(now) == python_states(roster["people"], now)
    counts = verdict_counts(roster["cycle"].id, now)
    assert counts == {r: list(expected.values()).count(r) for r in ("pass", "fail", "pending")}


def test_the_roster_is_varied_enough(roster):
    """Every result occurs, and the times change some of them."""
    seen = [python_verdicts(roster["people"], roster["t0"] + timedelta(hours=h)) for h in (0, 100)]
    assert all(set(s.values()) == {"pass", "fail", "pending"} for s in seen)
    assert sum(seen[0][p] != seen[1][p] for p in seen[0]) >= 5


def test_the_fine_states_tell_apart_what_the_agency_counts(roster):
    """The SQL's finer states each occur: 缺考, a voided last attempt, never sat in an open
    window, a makeup open, withdrawn."""
    seen = {
        state
        for h in (-2, 0, 30, 60, 100)
        for _, _, state, _ in db.session.execute(
            sa.select(paper_states(roster["t0"] + timedelta(hours=h)))
        )
    }
    assert seen == set(SQL_STATES)


def test_the_overrides_decide_what_they_should(roster):
    """The roster's last twelve: voids and overrides, between the rounds, in the makeup and
    after it (each one's last paper: the humanities paper, the cheat's professional one)."""
    people, t0 = roster["people"][-11:], roster["t0"]
    states = {
        h: [overview(p, t0 + timedelta(hours=h)).states[0] for p in people[:-1]]
        + [overview(people[-1], t0 + timedelta(hours=h)).states[-1]]
        for h in (30, 60, 100)
    }
    seen = {h: [(s.code, s.remaining) for s in row] for h, row in states.items()}
    waiting, opened, failed = "makeup_waiting", "open", ("failed", 0)
    # Voids: barred from the makeup, unless admitted (and not when the admission was revoked).
    assert seen[60][:4] == [failed, (opened, 1), failed, failed]
    # Extra attempts carry into the makeup (its own limit is 1); a revoked one does not.
    assert seen[30][4:7] == [(waiting, 2), (waiting, 3), (waiting, 1)]
    assert overview(people[4], t0).states[0].code == "open"  # the regular round again
    # A personal window opens for its physician alone (not when revoked).
    assert seen[30][7:9] == [(opened, 2), (waiting, 1)]
    assert states[30][7].window is not None and states[30][7].window.personal
    # After everyone's makeup closed, a personal makeup window (the paper's limit, plus one).
    assert seen[100][9] == (opened, 2) and seen[100][10] == failed
    assert seen[30][10] == (opened, 1)  # the cheat, admitted, in a personal makeup window
