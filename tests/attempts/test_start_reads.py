"""What a start reads (issue #14's start budget): the session's physician as a few columns
checked in one statement, the entry gate in one statement, and the questions of a candidate
list read with it and kept. The refusals and the gate's decisions stay those of before."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from examsvc.accounts.models import User
from examsvc.attempts import operations as ops
from examsvc.attempts.models import Attempt, AttemptItem
from examsvc.banks.models import BankVersion, Question
from examsvc.banks.operations import question_cache
from examsvc.camera.models import EntryCheck
from examsvc.enums import OverrideKind, PhotoStatus, Procedure, Role
from examsvc.extensions import db
from examsvc.roster.models import Physician
from examsvc.roster.queries import Candidate
from tests.factories import create_cycle, create_physician, create_user
from tests.factories_exam import (
    create_bank,
    create_paper,
    create_window,
    device_of,
    let_in,
    pass_gate,
)
from tests.statements import recorded_statements

START = "/api/v1/exam/papers/{}/attempts"


def start(client, paper_id: int):
    return client.post(START.format(paper_id), json={"rules_acknowledged": True})


def selects(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT") and f"{table}." in s]


def test_a_start_reads_the_session_and_the_gate_once_each_and_loads_no_user(app, candidate, exam):
    with recorded_statements() as seen:
        assert start(candidate, exam["paper"].id).status_code == 201
    users = selects(seen, "users")
    assert len(users) == 1 and "physicians." in users[0]  # checked with the physician
    assert "attempts." in users[0] and selects(seen, "paper_overrides") == users  # and these
    assert not any("password_hash" in s or "face_encoding," in s for s in seen)
    gate = selects(seen, "entry_checks")
    assert len(gate) == 1 and "face_consents." in gate[0] and "entry_overrides." in gate[0]


def _refusal(client, url_method) -> tuple[int, str | None]:
    response = url_method(client)
    body = response.get_json() or {}
    return response.status_code, (body.get("error") or {}).get("code")


@pytest.mark.parametrize(
    "case",
    ["logged_out", "password_change", "deactivated", "logged_out_elsewhere", "staff", "no_cycle"],
)
def test_a_start_refuses_as_the_physician_check_does(app, client, exam, clock, case):
    """Each way a session fails ``physician_required`` or ``me()`` answers a start as it
    answers the overview (which keeps them), and nothing is stored."""
    physician = exam["physician"]
    if case == "staff":
        create_user(Role.ADMIN, login="admin1", password="Right-Pass1")
        db.session.commit()
        client.post("/login", data={"login": "admin1", "password": "Right-Pass1"})
    elif case != "logged_out":
        client.post("/login", data={"login": physician.id_number, "password": "Right-Pass1"})
        let_in(client, physician)
        user = db.session.get(User, physician.user_id)
        if case == "password_change":
            user.must_change_password = True
        elif case == "deactivated":
            user.active = False
        elif case == "logged_out_elsewhere":
            user.session_version += 1
        elif case == "no_cycle":
            create_cycle("HN-2029", starts_on=date(2027, 1, 1), ends_on=date(2029, 12, 31))
        db.session.commit()
    refused = _refusal(client, lambda c: start(c, exam["paper"].id))
    expected = {
        "logged_out": (401, "unauthorized"),
        "password_change": (403, "password_change_required"),
        "deactivated": (401, "unauthorized"),
        "logged_out_elsewhere": (401, "unauthorized"),
        "staff": (403, "forbidden"),
        "no_cycle": (404, "not_registered"),
    }[case]
    assert refused == expected
    assert _refusal(client, lambda c: c.get("/api/v1/exam")) == expected
    # A body that is not the start's: refused by the session's check first, as before, but
    # for "not registered", which the body's check came before
    bad = client.post(START.format(exam["paper"].id), json={"rules_acknowledged": "maybe"})
    assert bad.status_code == (422 if case == "no_cycle" else expected[0])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 0


@pytest.mark.parametrize(
    ("status", "encoding"),
    [(PhotoStatus.OK, bytes(1024)), (PhotoStatus.OK, None), (PhotoStatus.FAILED, bytes(8))],
    ids=["usable", "not_encoded", "failed"],
)
def test_the_narrow_read_is_the_physician_as_loaded(app, exam, status, encoding):
    physician = exam["physician"]
    physician.photo_status, physician.face_encoding = status, encoding
    physician.time_allowance_minutes = 15
    db.session.commit()
    user = db.session.get(User, physician.user_id)
    found = ops.starting(user.id, user.session_version)
    assert found == ops.Starting(Candidate.of(physician), [], False)
    assert found.physician.photo_usable is (status == PhotoStatus.OK and encoding is not None)
    sql = db.session.scalars(sa.select(Physician.id).where(Physician.photo_usable)).all()
    assert sql == ([physician.id] if found.physician.photo_usable else [])
    assert ops.starting(user.id, user.session_version + 1) is None


def test_the_starts_read_brings_the_attempts_and_whether_an_override_stands(
    app, candidate, exam, clock
):
    physician, paper = exam["physician"], exam["paper"]
    first = start(candidate, paper.id).get_json()
    candidate.post(f"/api/v1/exam/attempts/{first['id']}/submit")
    user = db.session.get(User, physician.user_id)
    found = ops.starting(user.id, user.session_version)
    assert sorted(found.attempts) == sorted(tuple(r) for r in ops.attempt_rows(physician.id))
    assert [a.id for a in found.attempts] == [first["id"]] and not found.overridden
    override = ops.grant_override(
        physician,
        paper,
        OverrideKind.EXTRA_TIME,
        reason="视力障碍",
        actor_id=None,
        now=clock.now(),
        allowance_cap=60,
        minutes=20,
    )
    db.session.commit()
    assert ops.starting(user.id, user.session_version).overridden
    let_in(candidate, physician)
    second = start(candidate, paper.id).get_json()
    attempt = db.session.get(Attempt, second["id"])
    assert attempt.deadline_at - attempt.started_at == timedelta(minutes=60 + 20)
    ops.revoke_override(override, actor_id=None, now=clock.now())
    db.session.commit()
    assert not ops.starting(user.id, user.session_version).overridden


def test_the_gate_admits_a_verification_until_the_last_valid_minute(app, client, exam, clock):
    """The validity is compared in SQL now: a verification exactly ENTRY_VALID_MINUTES old
    still opens an attempt, a moment later it does not; the one that opened an attempt in
    progress lets this device back in at any time."""
    app.config["ENTRY_VALID_MINUTES"] = 30
    physician = exam["physician"]
    client.post("/login", data={"login": physician.id_number, "password": "Right-Pass1"})
    pass_gate(physician, device_of(client), clock.now())
    db.session.commit()
    clock.advance(minutes=30, microseconds=1)
    assert start(client, exam["paper"].id).get_json()["error"]["code"] == "entry_check_required"
    clock.advance(microseconds=-1)
    body = start(client, exam["paper"].id).get_json()
    check = db.session.scalars(sa.select(EntryCheck)).one()
    assert check.attempt_id == body["id"]
    clock.advance(hours=5)  # long after: resuming on this device
    again = start(client, exam["paper"].id)
    assert again.status_code == 201 and again.get_json()["id"] == body["id"]


def test_a_candidate_lists_questions_are_kept_with_it_and_a_new_version_draws_its_own(
    app, client, clock
):
    """The first start reads each candidate list with its questions' data; the next start
    reads no question. A new version of the bank is a new list: its questions, not the
    kept ones of the version before."""
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    create_window(paper, clock.now() - timedelta(hours=1), hours=48)
    clients = []
    for _ in range(3):
        physician = create_physician(cycle, Procedure.SIMPLE, password="Right-Pass1")
        db.session.commit()
        c = app.test_client()
        c.post("/login", data={"login": physician.id_number, "password": "Right-Pass1"})
        let_in(c, physician)
        clients.append(c)
    first = start(clients[0], paper.id).get_json()
    kept = question_cache()
    version = db.session.scalars(sa.select(BankVersion)).one()
    candidates = db.session.scalars(
        sa.select(Question.id).where(Question.version_id == version.id)
    ).all()
    assert all(kept.get(qid) is not None for qid in candidates)

    with recorded_statements() as seen:
        second = start(clients[1], paper.id)
    assert second.status_code == 201
    assert not selects(seen, "questions")

    create_bank(now=clock.now(), answer_seed=1)  # the bank's next version
    db.session.commit()
    newer = db.session.scalar(sa.select(sa.func.max(BankVersion.id)))
    assert newer != version.id
    third = start(clients[2], paper.id).get_json()
    drawn = db.session.scalars(
        sa.select(Question.version_id)
        .join(AttemptItem, AttemptItem.question_id == Question.id)
        .where(AttemptItem.attempt_id == third["id"])
    ).all()
    assert set(drawn) == {newer}
    assert len(third["items"]) == len(first["items"])
    rows = db.session.execute(
        sa.select(Question.id, Question.data).where(Question.version_id == newer)
    ).all()
    assert all(kept.get(qid).data == data for qid, data in rows)  # read with the new list


def test_the_starts_read_finds_the_physicians_attempts_by_index(app):
    """The attempts are outer-joined one table after another: SQLite would otherwise join
    every physician's attempts first, at every start (found with EXPLAIN QUERY PLAN)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner")
    conn = db.session.connection()
    compiled = ops._STARTING[False].compile(dialect=conn.dialect)
    plan = [
        row[-1]
        for row in conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}", tuple(1 for _ in compiled.positiontup or ())
        )
    ]
    assert any(step.startswith("SEARCH attempts USING INDEX") for step in plan), plan
    assert not any("SCAN attempts" in step or "MATERIALIZE" in step for step in plan), plan
