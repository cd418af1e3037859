"""Rows the candidate's camera channel makes (snapshots, client events, entry checks,
overrides), made directly for the invigilators' tests; and a hall of two sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from examsvc.accounts.models import User
from examsvc.attempts.models import Attempt
from examsvc.attempts.tallies import retally
from examsvc.camera.models import (
    ClientEvent,
    ClientEventKind,
    EntryCheck,
    EntryOutcome,
    EntryOverride,
    Snapshot,
    SnapshotStatus,
)
from examsvc.enums import AttemptStatus, Procedure, Role
from examsvc.extensions import db
from examsvc.invigilation import operations as ops
from examsvc.papers.models import ExamWindow, Paper
from examsvc.roster.models import Physician
from tests.factories import create_cycle, create_physician, create_user
from tests.factories_exam import create_bank, create_paper, create_window

PASSWORD = "Right-Pass1"


def create_attempt(physician: Physician, window: ExamWindow, now: datetime, **kw: Any) -> Attempt:
    """An attempt in progress (no questions: the wall does not read them)."""
    number = kw.pop("number", 1)
    attempt = Attempt(
        physician_id=physician.id,
        paper_id=window.paper_id,
        window_id=window.id,
        number=number,
        status=AttemptStatus.IN_PROGRESS,
        open_slot=f"{physician.id}:{window.paper_id}",
        seed=1,
        started_at=now,
        deadline_at=kw.pop("deadline_at", now + timedelta(minutes=60)),
        total_points=0,
        **kw,
    )
    db.session.add(attempt)
    db.session.flush()
    retally(attempt.physician_id, attempt.paper_id)  # as the operations keep the counts
    return attempt


def create_snapshot(
    attempt: Attempt,
    at: datetime,
    status: SnapshotStatus = SnapshotStatus.OK,
    image: bytes | None = None,
    data_dir: str | Path | None = None,
    **kw: Any,
) -> Snapshot:
    """A snapshot row; with ``image``, its file under ``data_dir`` as the channel stores it."""
    snapshot = Snapshot(
        attempt_id=attempt.id,
        received_at=at,
        taken_at=at,
        path=None,
        size=len(image or b""),
        status=status,
        flags=kw.pop("flags", [] if status == SnapshotStatus.OK else [status.value]),
        distance=kw.pop("distance", None),
        measurements=kw.pop("measurements", {"face_count": 1}),
        analysed_at=None if status == SnapshotStatus.PENDING else at,
        **kw,
    )
    db.session.add(snapshot)
    db.session.flush()
    if image is not None:
        assert data_dir is not None
        relative = f"snapshots/{attempt.id}/{snapshot.id}.jpg"
        path = Path(data_dir) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image)
        snapshot.path = relative
        db.session.flush()
    return snapshot


def create_event(attempt: Attempt, kind: ClientEventKind, at: datetime) -> ClientEvent:
    event = ClientEvent(attempt_id=attempt.id, kind=kind, at=at, client_at=at, details={})
    db.session.add(event)
    db.session.flush()
    return event


def create_entry_check(
    physician: Physician,
    paper: Paper,
    at: datetime,
    outcome: EntryOutcome,
    frames: list[bytes],
    data_dir: str | Path,
    attempt: Attempt | None = None,
    distance: float | None = 0.52,
) -> EntryCheck:
    check = EntryCheck(
        physician_id=physician.id,
        paper_id=paper.id,
        attempt_id=attempt.id if attempt else None,
        checked_at=at,
        outcome=outcome,
        distance=distance,
        decision={"code": outcome.value},
        frames=[],
    )
    db.session.add(check)
    db.session.flush()
    paths = []
    for n, frame in enumerate(frames):
        relative = f"entry/{check.id}/{n}.jpg"
        (Path(data_dir) / relative).parent.mkdir(parents=True, exist_ok=True)
        (Path(data_dir) / relative).write_bytes(frame)
        paths.append(relative)
    check.frames = paths
    db.session.flush()
    return check


def create_override(physician: Physician, admin: User, at: datetime, reason: str) -> EntryOverride:
    override = EntryOverride(
        physician_id=physician.id, granted_by=admin.id, granted_at=at, reason=reason
    )
    db.session.add(override)
    db.session.flush()
    return override


class Hall:
    """Two sessions of one window: ``session`` (invigilator ``mine``; candidates ``a``, ``b``,
    ``idle``) and ``other`` (invigilator ``theirs``; candidate ``c``). ``a``, ``b`` and ``c``
    have attempts in progress. Each attribute is loaded afresh from the current session (a
    Socket.IO event ends the session the test shares with the app)."""

    def __init__(self, **rows: Any) -> None:
        self._rows = {name: (type(row), row.id) for name, row in rows.items()}

    def __getattr__(self, name: str) -> Any:
        try:
            model, row_id = self._rows[name]
        except KeyError:
            raise AttributeError(name) from None
        return db.session.get(model, row_id)


def create_hall(now: datetime) -> Hall:
    cycle = create_cycle()
    create_bank(now=now)
    paper = create_paper(cycle.id, now)
    window = create_window(paper, now - timedelta(hours=1), hours=48)
    session = ops.create_session(window, "第一考场", None)
    other = ops.create_session(window, "第二考场", None)
    mine = create_user(Role.INVIGILATOR, password=PASSWORD, display_name="监考甲")
    theirs = create_user(Role.INVIGILATOR, password=PASSWORD, display_name="监考乙")
    ops.assign_invigilators(session, [mine.id])
    ops.assign_invigilators(other, [theirs.id])
    a = create_physician(cycle, Procedure.SIMPLE, password=PASSWORD, name="张三")
    b = create_physician(cycle, Procedure.SIMPLE, password=PASSWORD, name="李四")
    idle = create_physician(cycle, Procedure.SIMPLE, password=PASSWORD, name="王五")
    c = create_physician(cycle, Procedure.SIMPLE, password=PASSWORD, name="赵六")
    ops.assign_candidates(session, [a.registration_id, b.registration_id, idle.registration_id])
    ops.assign_candidates(other, [c.registration_id])
    hall = Hall(
        paper=paper,
        window=window,
        session=session,
        other=other,
        mine=mine,
        theirs=theirs,
        a=a,
        b=b,
        c=c,
        idle=idle,
        attempt_a=create_attempt(a, window, now),
        attempt_b=create_attempt(b, window, now),
        attempt_c=create_attempt(c, window, now),
    )
    db.session.commit()
    return hall


def log_in(client: Any, user: User) -> Any:
    response = client.post("/login", data={"login": user.login, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client
