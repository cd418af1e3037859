"""Keys never leave the server before submission: every page, API answer and socket payload
a physician reaches during an attempt, and study mode before grading (背题模式 shows keys by
design, in a bank the agency opened for study). The bank's explanations carry a marker, and
every question object is checked for a key field; the graded study page is the positive
control (the marker is found where keys are meant to be)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Flask, g

from examsvc.banks.models import QuestionBank
from examsvc.banks.operations import BankInfo, import_bank
from examsvc.enums import PaperKind, Procedure
from examsvc.extensions import db, socketio
from tests.factories import create_cycle, create_physician
from tests.factories_exam import create_paper, create_window, let_in, make_parsed
from tests.security.conftest import client_of

MARK = "KEYLEAK"
KEY_FIELDS = {"answer", "answers_key", "explanation", "correct", "key_letters", "solution"}


def _bank(now: Any) -> QuestionBank:
    parsed = make_parsed("humanities", ["医学伦理", "卫生法规"], 6)
    for q in parsed.questions:
        q["explanation"] = f"{MARK}-{q['external_id']}"
        for sub in q.get("sub_questions") or []:
            sub["explanation"] = f"{MARK}-{sub['external_id']}"
    import_bank(
        parsed,
        BankInfo("humanities", "humanities 题库", PaperKind.HUMANITIES, None),
        filename="humanities.json",
        data=json.dumps(parsed.questions, ensure_ascii=False).encode(),
        actor_id=None,
        now=now,
    )
    return db.session.query(QuestionBank).filter_by(code="humanities").one()


def _questions(payload: Any) -> list[dict[str, Any]]:
    """Every object in ``payload`` that is a question (it has a stem)."""
    found: list[dict[str, Any]] = []
    if isinstance(payload, dict):
        if "stem" in payload:
            found.append(payload)
        for value in payload.values():
            found += _questions(value)
    elif isinstance(payload, list):
        for value in payload:
            found += _questions(value)
    return found


def _no_key(where: str, payload: Any) -> None:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    assert MARK not in text, where
    assert "answer-key" not in text, where
    for question in _questions(payload) if not isinstance(payload, str) else []:
        assert not KEY_FIELDS & set(question), (where, sorted(KEY_FIELDS & set(question)))


def test_nothing_a_candidate_reaches_during_an_attempt_carries_a_key(app: Flask, clock) -> None:
    now = clock.now()
    cycle = create_cycle()
    bank = _bank(now)
    paper = create_paper(cycle.id, now)
    create_window(paper, now - timedelta(hours=1), hours=48)
    physician = create_physician(cycle, Procedure.SIMPLE, password="Right-Pass1")
    physician.user.must_change_password = False
    db.session.commit()
    me = client_of(app, physician.user_id)
    let_in(me.http, db.session.get(type(physician), physician.id))
    seen: dict[str, Any] = {}
    for path in ("/home", f"/exam/paper/{paper.id}", "/results", "/study"):
        seen[path] = me.get(path).get_data(as_text=True)
    seen["overview"] = me.get("/api/v1/exam").get_json()
    started = me.post(f"/api/v1/exam/papers/{paper.id}/attempts", json={"rules_acknowledged": True})
    assert started.status_code == 201, started.get_json()
    seen["start"] = started.get_json()
    attempt_id = seen["start"]["id"]
    assert _questions(seen["start"]), "the attempt's questions were not found"
    seen["state"] = me.get(f"/api/v1/exam/attempts/{attempt_id}").get_json()
    seen["page"] = me.get(f"/exam/{attempt_id}").get_data(as_text=True)
    for path in (
        f"/exam/paper/{paper.id}/consent",
        f"/exam/paper/{paper.id}/device",
        f"/exam/paper/{paper.id}/verify",
        "/home",
        "/results",
        "/api/v1/session",
        "/api/v1/exam",
    ):
        seen[f"{path} (during)"] = me.get(path).get_data(as_text=True)
    saved = me.put(
        f"/api/v1/exam/attempts/{attempt_id}/answers/1",
        json={"response": None, "marked": True, "seq": 1},
    )
    seen["save"] = saved.get_json()
    closed = me.get(f"/study/{bank.id}")  # the exam's bank, not open for study
    assert closed.status_code in (404, 409)  # not open; and study is shut during an attempt
    seen["study bank"] = closed.get_data(as_text=True)
    g.pop("user", None)
    ws = socketio.test_client(app, namespace="/exam", flask_test_client=me.http)
    seen["exam_join"] = ws.emit(
        "exam_join", {"attempt_id": attempt_id}, namespace="/exam", callback=True
    )
    seen["answer"] = ws.emit(
        "answer",
        {"attempt_id": attempt_id, "position": 2, "response": None, "marked": True, "seq": 1},
        namespace="/exam",
        callback=True,
    )
    seen["received"] = ws.get_received("/exam")
    ws.disconnect("/exam")
    for where, payload in seen.items():
        _no_key(where, payload)


def test_study_mode_shows_keys_only_once_graded_or_asked_to_memorise(app: Flask, clock) -> None:
    now = clock.now()
    cycle = create_cycle()
    bank = _bank(now)
    bank.open_for_study = True
    physician = create_physician(cycle, Procedure.SIMPLE, password="Right-Pass1")
    physician.user.must_change_password = False
    db.session.commit()
    me = client_of(app, physician.user_id)
    practice = me.get(f"/study/{bank.id}?seed=7")
    assert practice.status_code == 200
    _no_key("practice", practice.get_data(as_text=True))
    graded = me.post(f"/study/{bank.id}", data={"seed": "7"})
    assert graded.status_code == 200
    assert MARK in graded.get_data(as_text=True)  # the control: keys where they belong
