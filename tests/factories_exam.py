"""Factories for banks, papers and windows (generated test questions, flush only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.attempts.operations import Entry
from examsvc.attempts.tallies import retally
from examsvc.banks.operations import BankInfo, import_bank
from examsvc.camera import rules
from examsvc.camera.models import EntryCheck, EntryOutcome, FaceConsent
from examsvc.camera.queries import DeviceCheck
from examsvc.enums import AttemptStatus, PaperKind, PhotoStatus, PracticeCategory, WindowRound
from examsvc.extensions import db
from examsvc.papers.models import ExamWindow, Paper
from examsvc.papers.operations import add_window, save_paper
from examsvc.papers.schemas import PaperSpec
from examsvc.roster.models import Physician
from question_banks import ParsedBank
from question_banks.types import QUESTION_TYPES
from tests.factories import create_cycle

OPTIONS = {"A": "甲", "B": "乙", "C": "丙", "D": "丁", "E": "戊"}


def make_question(
    prefix: str, n: int, qtype: str, tag: str, answer_seed: int = 0
) -> dict[str, Any]:
    key = "ABCDE"[(n + answer_seed) % 5]
    base: dict[str, Any] = {
        "external_id": f"{prefix}-{qtype}-{n:04d}",
        "type": qtype,
        "tag": tag,
        "difficulty": 2,
        "stem": f"{prefix}{tag}{qtype}第{n}题",
    }
    if qtype == "single":
        return base | {"options": dict(OPTIONS), "answer": key, "explanation": "解析"}
    if qtype == "multiple":
        return base | {
            "options": dict(OPTIONS),
            "answer": sorted({key, "ABCDE"[(n + 2) % 5]}),
            "explanation": "解析",
        }
    if qtype == "true_false":
        return base | {"answer": n % 2 == 0, "explanation": "解析"}
    subs = [
        {
            "external_id": f"{base['external_id']}-{i}",
            "stem": f"小题{i}",
            "answer": "ABCDE"[(n + i) % 5],
            "explanation": "解析",
        }
        for i in (1, 2)
    ]
    if qtype == "case":
        return base | {
            "explanation": "",
            "sub_questions": [s | {"options": dict(OPTIONS)} for s in subs],
        }
    return base | {"options": dict(OPTIONS), "explanation": "", "sub_questions": subs}


def make_parsed(
    prefix: str, tags: list[str], per_type: int = 6, answer_seed: int = 0
) -> ParsedBank:
    questions = [
        make_question(prefix, n, qtype, tag, answer_seed)
        for tag in tags
        for qtype in QUESTION_TYPES
        for n in range(per_type)
    ]
    for i, q in enumerate(questions):  # unique ids and stems across tags
        q["external_id"] = f"{q['external_id']}-{i}"
        q["stem"] = f"{q['stem']}（{i}）"
        for sub in q.get("sub_questions") or []:
            sub["external_id"] = f"{q['external_id']}-{sub['external_id'][-1]}"
    return ParsedBank(None, questions)


def create_bank(
    code: str = "humanities",
    kind: PaperKind = PaperKind.HUMANITIES,
    category: PracticeCategory | None = None,
    tags: list[str] | None = None,
    per_type: int = 6,
    answer_seed: int = 0,
    now: datetime | None = None,
):
    parsed = make_parsed(code, tags or ["医学伦理", "卫生法规"], per_type, answer_seed)
    return import_bank(
        parsed,
        BankInfo(code, f"{code} 题库", kind, category),
        filename=f"{code}.json",
        data=repr(parsed.questions).encode(),
        actor_id=None,
        now=now or datetime.now().astimezone(),
    )


def paper_spec(
    code: str = "HUM", kind: str = "humanities", bank: str = "humanities", **overrides: Any
) -> PaperSpec:
    data: dict[str, Any] = {
        "code": code,
        "name": f"{code} 测评试卷",
        "kind": kind,
        "duration_minutes": 60,
        "pass_mark": 60,
        "attempt_limit_simple": 20,
        "attempt_limit_general": 1,
        "sections": [
            {
                "title": "单选题",
                "bank": bank,
                "qtype": "single",
                "tags": [],
                "count": 5,
                "points_per_item": 2,
            },
            {
                "title": "多选题",
                "bank": bank,
                "qtype": "multiple",
                "tags": [],
                "count": 2,
                "points_per_item": 2,
            },
            {
                "title": "判断题",
                "bank": bank,
                "qtype": "true_false",
                "tags": [],
                "count": 2,
                "points_per_item": 1,
            },
            {
                "title": "病例组型题",
                "bank": bank,
                "qtype": "case",
                "tags": [],
                "count": 1,
                "points_per_item": 2,
            },
            {
                "title": "配伍题",
                "bank": bank,
                "qtype": "matching",
                "tags": [],
                "count": 1,
                "points_per_item": 2,
            },
        ],
    }
    data.update(overrides)
    return PaperSpec.model_validate(data)


def create_paper(cycle_id: int, now: datetime, **overrides: Any) -> Paper:
    return save_paper(cycle_id, paper_spec(**overrides), now=now)


def create_window(
    paper: Paper,
    opens_at: datetime,
    hours: float = 24 * 10,
    round: WindowRound = WindowRound.REGULAR,
) -> ExamWindow:
    return add_window(
        paper, round=round, opens_at=opens_at, closes_at=opens_at + timedelta(hours=hours)
    )


# --- the gate before an attempt (for tests that are not about it) ----------------------


def pass_gate(
    physician: Physician,
    device: str,
    now: datetime,
    outcome: EntryOutcome = EntryOutcome.PASSED,
) -> EntryCheck:
    """What the camera steps leave behind for a physician on one device (``device``: the
    session's device token): a usable registration photo, consent to the current text in
    this cycle, and a passed entry verification. Tests of the gate itself take the real path
    (tests/camera)."""
    if physician.face_encoding is None:
        physician.photo_status, physician.face_encoding = PhotoStatus.OK, bytes(1024)
    consent = db.session.query(FaceConsent).filter_by(
        user_id=physician.user_id, cycle_id=physician.cycle_id, version=rules.CONSENT_VERSION
    )
    if consent.first() is None:
        db.session.add(
            FaceConsent(
                user_id=physician.user_id,
                cycle_id=physician.cycle_id,
                version=rules.CONSENT_VERSION,
                given_at=now,
            )
        )
    check = EntryCheck(
        physician_id=physician.id,
        checked_at=now,
        outcome=outcome,
        distance=0.3,
        decision={"code": outcome.value, "factory": True},
        device=rules.device_key(device),
    )
    db.session.add(check)
    db.session.flush()
    return check


def entry(check: EntryCheck) -> Entry:
    """The gate as the camera feature answers it for ``check``'s device (operations tests)."""
    return Entry(consented=True, photo_usable=True, check=DeviceCheck(check.id, check.attempt_id))


def device_of(client: Any) -> str:
    """The device token of a logged-in Flask test client's session."""
    with client.session_transaction() as session:
        return str(session["device"])


def let_in(client: Any, physician: Physician | None = None) -> EntryCheck:
    """Pass the gate now for the physician logged in on ``client`` (committed): before each
    new attempt, as a new attempt takes a verification of its own."""
    from examsvc import clock
    from examsvc.roster.queries import current_physician

    if physician is None:
        with client.session_transaction() as session:
            physician = current_physician(session["uid"])
        assert physician is not None
    check = pass_gate(physician, device_of(client), clock.now())
    db.session.commit()
    return check


def paper_window(now: datetime) -> ExamWindow:
    """A cycle, the humanities bank, a paper and a window of it opening ``now``."""
    cycle = create_cycle()
    create_bank(now=now)
    return create_window(create_paper(cycle.id, now), now)


def create_attempt(
    physician: Physician,
    paper: Paper,
    window: ExamWindow,
    outcome: str,  # passed | failed | voided | in_progress
    started: datetime | None = None,
) -> Attempt:
    """An attempt row as the operations leave it (numbered, timed, graded or open), without
    drawing questions: for rules and retention that read attempts, not their items."""
    number = 1 + (
        db.session.scalar(
            sa.select(sa.func.count(Attempt.id)).where(
                Attempt.physician_id == physician.id, Attempt.paper_id == paper.id
            )
        )
        or 0
    )
    started = started or window.opens_at + timedelta(minutes=number)
    open_ = outcome == "in_progress"
    attempt = Attempt(
        physician_id=physician.id,
        paper_id=paper.id,
        window_id=window.id,
        number=number,
        status={
            "in_progress": AttemptStatus.IN_PROGRESS,
            "voided": AttemptStatus.VOIDED,
        }.get(outcome, AttemptStatus.SUBMITTED),
        open_slot=f"{physician.id}:{paper.id}" if open_ else None,
        seed=number,
        started_at=started,
        deadline_at=started + timedelta(hours=1),
        submitted_at=None if open_ else started + timedelta(minutes=30),
        total_points=10,
        earned_points=None if open_ else (9 if outcome == "passed" else 3),
        score=None if open_ else (90 if outcome == "passed" else 30),
        passed=None if outcome in ("in_progress", "voided") else outcome == "passed",
    )
    db.session.add(attempt)
    db.session.flush()
    retally(attempt.physician_id, attempt.paper_id)  # as the operations keep the counts
    return attempt
