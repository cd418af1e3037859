"""Several sessions' cards built together (``queries.cards_for``, a live push's
``queries.card_updates``) are the cards each session's wall shows (``queries.cards``), in a
fixed number of statements whatever the number of sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner

from examsvc.attempts.models import Attempt
from examsvc.camera.models import ClientEventKind, EntryOutcome, SnapshotStatus
from examsvc.enums import AttemptStatus, Procedure, Role
from examsvc.extensions import db
from examsvc.invigilation import operations as ops
from examsvc.invigilation import queries
from examsvc.invigilation.models import ExamSession, session_candidates
from tests.factories import create_cycle, create_physician, create_user
from tests.factories_exam import create_bank, create_paper, create_window
from tests.invigilation.factories import (
    create_attempt,
    create_entry_check,
    create_event,
    create_override,
    create_snapshot,
)
from tests.statements import recorded_statements

JPEG = b"\xff\xd8\xff\xe0" + b"a snapshot" * 20
K = ClientEventKind


@pytest.fixture(autouse=True)
def signed_at_one_time(monkeypatch):
    """The thumbs' tokens carry the time they were signed: one time for the whole test."""
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_790_000_000)


def seat(session: ExamSession, *physicians: Any) -> None:
    """Straight into the session (a candidate may be held by two sessions)."""
    db.session.execute(
        sa.insert(session_candidates),
        [{"session_id": session.id, "physician_id": p.id} for p in physicians],
    )


def submit(attempt: Attempt, at: datetime) -> None:
    attempt.status, attempt.submitted_at, attempt.open_slot = AttemptStatus.SUBMITTED, at, None
    db.session.flush()


def build(now, data_dir) -> dict[str, Any]:
    """Four sessions: ``one`` and ``two`` of the first paper's window, ``three`` of a second
    paper's, ``empty`` with nobody. Everyone's state is in the docstring of each line."""
    cycle = create_cycle()
    create_bank(now=now)
    paper = create_paper(cycle.id, now)
    other_paper = create_paper(cycle.id, now, code="ETH")
    window = create_window(paper, now - timedelta(hours=1), hours=48)
    other_window = create_window(other_paper, now - timedelta(hours=1), hours=48)
    one = ops.create_session(window, "第一考场", None)
    two = ops.create_session(window, "第二考场", None)
    three = ops.create_session(other_window, "第三考场", None)
    empty = ops.create_session(window, "第四考场", None)
    admin = create_user(Role.ADMIN, display_name="管理员甲")
    p = {n: create_physician(cycle, Procedure.SIMPLE, name=n) for n in "甲乙丙丁戊己庚辛"}
    seat(one, p["甲"], p["乙"], p["丙"], p["庚"])
    seat(two, p["丁"], p["戊"], p["庚"], p["辛"])
    seat(three, p["戊"], p["己"])
    at = now - timedelta(minutes=30)
    later = [at + timedelta(minutes=n) for n in range(1, 10)]

    # 甲: in progress; a newest snapshot with its file, two unreviewed multiple faces, a
    # reviewed no face; disconnected then reconnected; the camera stopped.
    a = create_attempt(p["甲"], window, at)
    create_snapshot(a, later[0], SnapshotStatus.MULTIPLE_FACES)
    create_snapshot(a, later[1], SnapshotStatus.MULTIPLE_FACES)
    create_snapshot(a, later[2], SnapshotStatus.NO_FACE, reviewed_at=later[3], reviewed_by=admin.id)
    thumb_a = create_snapshot(a, later[4], image=JPEG, data_dir=data_dir)
    create_snapshot(a, later[5], image=None)  # newer, its file purged: not the thumb
    create_event(a, K.DISCONNECTED, later[1])
    create_event(a, K.RECONNECTED, later[2])
    create_event(a, K.CAMERA_STARTED, later[0])
    create_event(a, K.CAMERA_STOPPED, later[3])
    create_event(a, K.HIDDEN, later[4])  # neither connection nor camera
    # 乙: submitted, an unreviewed mismatch; a late disconnect does not show.
    b = create_attempt(p["乙"], window, at)
    submit(b, later[5])
    create_snapshot(b, later[0], SnapshotStatus.MISMATCH)
    create_event(b, K.DISCONNECTED, later[6])
    # 丙: no attempt; an entry check left for review (this paper) and an override.
    create_entry_check(p["丙"], paper, at, EntryOutcome.REVIEW, [JPEG], data_dir)
    create_override(p["丙"], admin, at, "照片过旧")
    # 丁: in progress; reconnected then disconnected (at the same time: the later row wins),
    # the camera stopped then started; a snapshot whose file is gone (no thumb).
    d = create_attempt(p["丁"], window, at)
    create_snapshot(d, later[0])
    create_event(d, K.RECONNECTED, later[1])
    create_event(d, K.DISCONNECTED, later[1])
    create_event(d, K.CAMERA_STOPPED, later[0])
    create_event(d, K.CAMERA_STARTED, later[2])
    # 戊 (in ``two`` and ``three``): a submitted first attempt and an open second one in the
    # first window, none in the second; an entry check for review on the open attempt
    # (``two`` only) and one reviewed (nowhere); an override, revoked.
    e1 = create_attempt(p["戊"], window, at, number=1)
    submit(e1, later[0])
    e2 = create_attempt(p["戊"], window, later[0], number=2)
    create_snapshot(e2, later[1], SnapshotStatus.NO_FACE, image=JPEG, data_dir=data_dir)
    create_entry_check(p["戊"], paper, later[0], EntryOutcome.REVIEW, [], data_dir, attempt=e2)
    reviewed = create_entry_check(p["戊"], other_paper, at, EntryOutcome.REVIEW, [], data_dir)
    reviewed.reviewed_at = later[0]
    create_override(p["戊"], admin, at, "已核实").revoked_at = later[1]
    # 己: in progress in the second window, a covered snapshot reviewed, the time run out;
    # an entry check for the first paper (not this session's).
    f = create_attempt(p["己"], other_window, at, deadline_at=now - timedelta(minutes=1))
    create_snapshot(f, later[0], SnapshotStatus.COVERED, reviewed_at=later[1])
    create_entry_check(p["己"], paper, at, EntryOutcome.REVIEW, [], data_dir)
    # 庚 (in ``one`` and ``two``): one attempt in progress, a poor camera unreviewed, an
    # override: the same card in both. 辛: nothing at all.
    g = create_attempt(p["庚"], window, at)
    create_snapshot(g, later[0], SnapshotStatus.POOR_CAMERA, image=JPEG, data_dir=data_dir)
    create_override(p["庚"], admin, at, "网络故障")
    db.session.commit()
    return {
        "sessions": {"one": one.id, "two": two.id, "three": three.id, "empty": empty.id},
        "attempts": [a.id, b.id, d.id, e2.id, f.id, g.id],
        "thumb_a": thumb_a.id,
        "ids": {n: x.id for n, x in p.items()},
    }


def shown(cards: list[queries.Card]) -> list[dict[str, Any]]:
    return [c.as_dict() for c in cards]


def per_session(sessions: dict[str, int], now, physician_ids=None) -> dict[int, list[dict]]:
    db.session.expire_all()
    return {
        sid: shown(queries.cards(db.session.get(ExamSession, sid), now, physician_ids))
        for sid in sessions.values()
    }


def test_several_sessions_together_give_each_session_s_own_cards(app, clock, tmp_path):
    now = clock.now()
    hall = build(now, tmp_path)
    sessions = hall["sessions"]
    alone = per_session(sessions, now)
    together = queries.cards_for(dict.fromkeys(sessions.values()), now)
    assert {sid: shown(c) for sid, c in together.items()} == alone

    by_name = {sid: {c["name"]: c for c in cards} for sid, cards in alone.items()}
    one, two, three = (by_name[sessions[n]] for n in ("one", "two", "three"))
    assert [c["name"] for c in alone[sessions["one"]]] == ["甲", "丙", "庚", "乙"]
    assert [c["name"] for c in alone[sessions["two"]]] == ["戊", "庚", "丁", "辛"]
    assert [c["name"] for c in alone[sessions["three"]]] == ["己", "戊"]
    assert alone[sessions["empty"]] == []
    a = one["甲"]
    assert (a["state"], a["connection"], a["camera"]) == ("in_progress", "connected", "off")
    assert a["thumb_id"] == hall["thumb_a"] and a["thumb"]
    assert a["flags"] == [{"code": "multiple_faces", "count": 2}] and a["order"] == 1
    assert a["remaining_seconds"] == 30 * 60
    b = one["乙"]
    assert (b["state"], b["connection"], b["camera"], b["thumb"]) == ("submitted", None, None, None)
    assert b["flags"] == [{"code": "mismatch", "count": 1}] and b["order"] == 50
    c = one["丙"]
    assert (c["state"], c["attempt_id"]) == ("not_started", None)
    assert [f["code"] for f in c["flags"]] == ["entry_review", "entry_override"]
    d = two["丁"]
    assert (d["connection"], d["camera"], d["thumb"], d["flags"]) == (
        "disconnected",
        "on",
        None,
        [],
    )
    assert d["order"] == 20
    e, e3 = two["戊"], three["戊"]
    assert (e["state"], e["attempt_id"]) == ("in_progress", hall["attempts"][3])
    assert e["camera"] == "on" and e["thumb_id"]
    assert e["flags"] == [{"code": "no_face", "count": 1}, {"code": "entry_review", "count": 1}]
    assert (e3["state"], e3["attempt_id"], e3["flags"], e3["paper"]) == (
        "not_started",
        None,
        [],
        "ETH 测评试卷",
    )
    f = three["己"]
    assert (f["remaining_seconds"], f["flags"], f["camera"]) == (0, [], "none")
    assert one["庚"] == two["庚"]
    assert one["庚"]["flags"] == [
        {"code": "poor_camera", "count": 1},
        {"code": "entry_override", "count": 1},
    ]
    assert two["辛"]["state"] == "not_started" and two["辛"]["flags"] == []

    # Some candidates of each session only, as a push asks for them.
    ids = hall["ids"]
    some = {
        sessions["one"]: [ids["乙"], ids["庚"]],
        sessions["two"]: [ids["庚"]],
        sessions["three"]: [ids["戊"], ids["己"]],
    }
    chosen = queries.cards_for(some, now)
    for sid, pids in some.items():
        db.session.expire_all()
        expected = queries.cards(db.session.get(ExamSession, sid), now, pids)
        assert shown(chosen[sid]) == shown(expected)
        assert sorted(c["physician_id"] for c in shown(chosen[sid])) == sorted(pids)


def test_a_push_s_cards_are_the_walls_cards_of_the_changed_candidates(app, clock, tmp_path):
    now = clock.now()
    hall = build(now, tmp_path)
    sessions = hall["sessions"]
    alone = per_session(sessions, now)
    updates = queries.card_updates(hall["attempts"], now)
    assert sorted(updates) == sorted(sessions[n] for n in ("one", "two", "three"))
    for sid, cards in updates.items():
        changed = {c.physician_id for c in cards}
        assert shown(cards) == [c for c in alone[sid] if c["physician_id"] in changed]
    names = {sid: sorted(c.name for c in cards) for sid, cards in updates.items()}
    assert names == {
        sessions["one"]: ["乙", "庚", "甲"],
        sessions["two"]: ["丁", "庚", "戊"],
        sessions["three"]: ["己"],  # 戊's attempt is of the other window
    }


def test_a_push_costs_the_same_statements_for_three_sessions_as_for_one(app, clock, tmp_path):
    now = clock.now()
    hall = build(now, tmp_path)
    a, b, d, e2, f, g = hall["attempts"]

    def count(attempt_ids: list[int]) -> tuple[int, int]:
        db.session.expire_all()
        with recorded_statements() as seen:
            updates = queries.card_updates(attempt_ids, now)
        return len(updates), len(seen)

    sessions_one, one = count([a, b])
    sessions_all, everyone = count([a, b, d, e2, f, g])
    assert (sessions_one, sessions_all) == (1, 3)
    assert everyone == one == 8  # held, seats, attempts, thumbs, flags, events, checks, overrides


def test_a_push_lets_the_loop_go_after_each_statement(app, clock, tmp_path):
    """``pause`` (``live.push_cards``: ``socketio.sleep(0)``) runs after every statement and
    after the thumbs are signed: the loop is never held for more than one of them."""
    now = clock.now()
    hall = build(now, tmp_path)
    db.session.expire_all()
    pauses: list[int] = []
    with recorded_statements() as seen:
        updates = queries.card_updates(
            hall["attempts"], now, pause=lambda: pauses.append(len(seen))
        )
    assert len(updates) == 3
    assert pauses == [1, 2, 3, 4, 4, 5, 6, 7, 8]  # the thumbs' signatures after the 4th
