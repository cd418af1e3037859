"""Banks in the database, drawing by blueprint, shortfalls, pinning, window edits."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.banks.models import BankVersion, Question
from examsvc.enums import AttemptStatus
from examsvc.extensions import db
from examsvc.papers import operations as ops
from tests.factories import create_cycle, create_physician
from tests.factories_exam import create_bank, create_paper, create_window, paper_spec


def test_import_makes_versions_and_never_changes_old_rows(app, clock):
    v1 = create_bank(now=clock.now())
    first = db.session.scalars(
        sa.select(Question).where(Question.version_id == v1.id).order_by(Question.id)
    ).first()
    snapshot = dict(first.data)
    v2 = create_bank(answer_seed=1, now=clock.now())
    assert (v1.number, v2.number) == (1, 2)
    db.session.refresh(first)
    assert first.data == snapshot and first.version_id == v1.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BankVersion)) == 2


def test_draw_is_reproducible_and_pinned_to_the_version_it_used(app, clock):
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    first = ops.draw_questions(paper, seed=42)
    assert first == ops.draw_questions(paper, seed=42)
    assert first != ops.draw_questions(paper, seed=43)
    assert [i.section_position for i in first] == [1] * 5 + [2] * 2 + [3] * 2 + [4, 5]
    assert first[0].option_order and sorted(first[0].option_order[""]) == list("ABCDE")
    create_bank(answer_seed=2, now=clock.now())  # re-import: the next draw uses version 2
    later = ops.draw_questions(paper, seed=42)
    versions = {db.session.get(Question, i.question_id).version.number for i in later}
    pinned = {db.session.get(Question, i.question_id).version.number for i in first}
    assert versions == {2} and pinned == {1}


def test_no_shuffle_keeps_bank_order_and_options(app, clock):
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now(), shuffle_questions=False, shuffle_options=False)
    items = ops.draw_questions(paper, seed=1)
    ids = [
        db.session.get(Question, i.question_id).external_id
        for i in items
        if i.section_position == 1
    ]
    assert ids == sorted(ids) and all(i.option_order is None for i in items)


def test_blueprint_the_bank_cannot_fill_is_refused_with_the_shortfall(app, clock):
    cycle = create_cycle()
    create_bank(now=clock.now(), per_type=3)
    spec = paper_spec(
        sections=[
            {
                "title": "单选题",
                "bank": "humanities",
                "qtype": "single",
                "tags": ["医学伦理"],
                "count": 5,
                "points_per_item": 2,
            }
        ]
    )
    with pytest.raises(ops.PaperRefused) as err:
        ops.save_paper(cycle.id, spec, now=clock.now())
    assert err.value.problems == [
        "第 1 节「单选题」：题库「humanities 题库」知识点「医学伦理」的单选题只有 3 道，本节需要 5 道"
    ]


def test_unknown_bank_and_prerequisite_are_named(app, clock):
    cycle = create_cycle()
    spec = paper_spec(bank="nope", prerequisite="HUM-X")
    with pytest.raises(ops.PaperRefused) as err:
        ops.save_paper(cycle.id, spec, now=clock.now())
    assert any("nope" in p for p in err.value.problems) and any(
        "HUM-X" in p for p in err.value.problems
    )


def _running_attempt(paper, window, physician, start, minutes=60) -> Attempt:
    attempt = Attempt(
        physician_id=physician.id,
        paper_id=paper.id,
        window_id=window.id,
        number=1,
        status=AttemptStatus.IN_PROGRESS,
        open_slot=f"{physician.id}:{paper.id}",
        seed=1,
        started_at=start,
        deadline_at=start + timedelta(minutes=minutes),
        total_points=10,
    )
    db.session.add(attempt)
    db.session.flush()
    return attempt


def test_a_paper_with_attempts_cannot_change_its_rules(app, clock):
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    window = create_window(paper, clock.now() - timedelta(hours=1))
    _running_attempt(paper, window, create_physician(cycle), clock.now())
    with pytest.raises(ops.PaperRefused, match="不能再修改"):
        ops.save_paper(cycle.id, paper_spec(duration_minutes=90), now=clock.now())
    # Its kind neither: the attempts are tallied under it (statistics, the verdict in SQL).
    with pytest.raises(ops.PaperRefused, match="不能再修改试卷类型"):
        ops.save_paper(cycle.id, paper_spec(kind="professional"), now=clock.now())
    renamed = ops.save_paper(cycle.id, paper_spec(name="改名后的试卷"), now=clock.now())
    assert renamed.name == "改名后的试卷"


def test_closing_a_window_early_never_cuts_running_attempts_silently(app, clock):
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    window = create_window(paper, clock.now() - timedelta(hours=1))
    attempt = _running_attempt(paper, window, create_physician(cycle), clock.now())
    early = clock.now() + timedelta(minutes=10)
    with pytest.raises(ops.WindowChangeRefused, match="1 场测评正在进行"):
        ops.change_window(
            window,
            opens_at=window.opens_at,
            closes_at=early,
            let_running_finish=False,
            now=clock.now(),
        )
    ops.change_window(
        window, opens_at=window.opens_at, closes_at=early, let_running_finish=True, now=clock.now()
    )
    db.session.refresh(attempt)
    assert window.closes_at == early and attempt.deadline_at == clock.now() + timedelta(minutes=60)


def test_preview_hides_keys_unless_asked(app, clock):
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    sample = ops.preview(paper, seed=7)
    assert len(sample) == 11 and all("key" not in q and "answer" not in q for q in sample)
    assert all("key" in q for q in ops.preview(paper, seed=7, with_answers=True))
