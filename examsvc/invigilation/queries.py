"""An invigilator's sessions, with their candidates (the admin dashboard shows them)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from examsvc.accounts.ids import mask
from examsvc.accounts.models import User
from examsvc.attempts.models import Attempt
from examsvc.camera.models import (
    FLAGGED_ROWS,
    FLAGGING,
    ClientEvent,
    ClientEventKind,
    EntryCheck,
    EntryOutcome,
    EntryOverride,
    Snapshot,
    SnapshotStatus,
)
from examsvc.enums import AttemptStatus, Role
from examsvc.errors import Refused
from examsvc.extensions import db
from examsvc.invigilation import evidence
from examsvc.invigilation.models import (
    ExamSession,
    ProctorWarning,
    session_candidates,
    session_invigilators,
)
from examsvc.invigilation.words import (
    CAMERA_LABELS,
    CONNECTION_LABELS,
    FLAG_LABELS,
    STATE_LABELS,
)
from examsvc.marks import N_
from examsvc.papers.models import ExamWindow, Paper
from examsvc.roster.models import Physician
from examsvc.roster.queries import current_cycle
from examsvc.web.i18n import gettext


def sessions_of(user_id: int) -> list[ExamSession]:
    """The sessions an invigilator is assigned to."""
    return list(
        db.session.scalars(
            sa.select(ExamSession)
            .join(session_invigilators, session_invigilators.c.session_id == ExamSession.id)
            .where(session_invigilators.c.user_id == user_id)
            .order_by(ExamSession.id)
        )
    )


@dataclass(frozen=True)
class SessionCard:
    """What an invigilator needs to know about one of their sessions."""

    session: ExamSession
    candidates: list[tuple[str, str]]  # (name, masked ID number)


def invigilator_sessions(user_id: int) -> list[SessionCard]:
    """The sessions this invigilator is assigned to, each with its candidates."""
    cards = []
    for session in sessions_of(user_id):
        people = db.session.execute(
            sa.select(Physician.name, Physician.id_number)
            .join(session_candidates, session_candidates.c.physician_id == Physician.id)
            .where(session_candidates.c.session_id == session.id)
            .order_by(Physician.registration_id)
        ).all()
        cards.append(SessionCard(session, [(name, mask(number)) for name, number in people]))
    return cards


# --- who may watch what -------------------------------------------------------------------


def watches(user: User, session_id: int) -> bool:
    """May ``user`` watch this session: an administrator any, an invigilator their own."""
    if user.role == Role.ADMIN:
        return db.session.get(ExamSession, session_id) is not None
    if user.role != Role.INVIGILATOR:
        return False
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(session_invigilators)
            .where(
                session_invigilators.c.session_id == session_id,
                session_invigilators.c.user_id == user.id,
            )
        )
        or 0
    ) > 0


def sessions_holding(attempt: Attempt) -> list[int]:
    """The sessions that hold this attempt: its candidate, for its window."""
    return list(
        db.session.scalars(
            sa.select(ExamSession.id)
            .join(session_candidates, session_candidates.c.session_id == ExamSession.id)
            .where(
                session_candidates.c.physician_id == attempt.physician_id,
                ExamSession.window_id == attempt.window_id,
            )
            .order_by(ExamSession.id)
        )
    )


def watches_attempt(user: User, attempt: Attempt) -> bool:
    """An administrator, or an invigilator of a session holding the attempt."""
    if user.role == Role.ADMIN:
        return True
    return any(watches(user, sid) for sid in sessions_holding(attempt))


def watches_physician(user: User, physician_id: int, paper_id: int | None) -> bool:
    """An administrator, or an invigilator of a session holding the physician (for that
    paper's windows, when one is given): for entry frames and the registration photo."""
    if user.role == Role.ADMIN:
        return True
    if user.role != Role.INVIGILATOR:
        return False
    query = (
        sa.select(sa.func.count())
        .select_from(ExamSession)
        .join(session_candidates, session_candidates.c.session_id == ExamSession.id)
        .join(session_invigilators, session_invigilators.c.session_id == ExamSession.id)
        .where(
            session_candidates.c.physician_id == physician_id,
            session_invigilators.c.user_id == user.id,
        )
    )
    if paper_id is not None:
        query = query.join(ExamWindow, ExamWindow.id == ExamSession.window_id).where(
            ExamWindow.paper_id == paper_id
        )
    return (db.session.scalar(query) or 0) > 0


def watched_sessions(user: User) -> list[ExamSession]:
    """The sessions whose wall ``user`` may open (an administrator: the current cycle's)."""
    if user.role != Role.ADMIN:
        return sessions_of(user.id)
    cycle = current_cycle()
    if cycle is None:
        return []
    return list(
        db.session.scalars(
            sa.select(ExamSession)
            .join(ExamWindow, ExamWindow.id == ExamSession.window_id)
            .join(Paper, Paper.id == ExamWindow.paper_id)
            .where(Paper.cycle_id == cycle.id)
            .order_by(ExamSession.id)
        )
    )


# --- the wall: one card per candidate ----------------------------------------------------

FLAGGED = {
    SnapshotStatus.MISMATCH: "mismatch",
    SnapshotStatus.MULTIPLE_FACES: "multiple_faces",
    SnapshotStatus.NO_FACE: "no_face",
    SnapshotStatus.COVERED: "covered",
    SnapshotStatus.POOR_CAMERA: "poor_camera",
}
assert set(FLAGGED) == FLAGGING  # the flags read with FLAGGED_ROWS, the index's condition
FLAG_ORDER = tuple(FLAG_LABELS)
CONNECTION_KINDS = (ClientEventKind.DISCONNECTED, ClientEventKind.RECONNECTED)
CAMERA_KINDS = (ClientEventKind.CAMERA_STOPPED, ClientEventKind.CAMERA_STARTED)


@dataclass
class Card:
    """What the wall shows of one candidate (``as_dict()`` is the page's and the live
    update's shape: the same function renders both)."""

    physician_id: int
    name: str
    masked_id: str
    paper: str
    attempt_id: int | None = None
    state: str = "not_started"
    deadline: datetime | None = None
    remaining_seconds: int | None = None
    connection: str | None = None  # connected | disconnected, while in progress
    camera: str | None = None  # on | off | none, while in progress
    thumb: str | None = None  # a signed token for the newest snapshot
    thumb_id: int | None = None  # that snapshot (the page fetches an image only when it changes)
    flags: list[tuple[str, int]] = field(default_factory=list)  # (code, count), worst first

    @property
    def order(self) -> int:
        """Most serious first: flagged, then in progress with the connection or the camera
        lost, in progress, not started; the finished (submitted, voided) last, their flagged
        first. Within flagged, the worst flag first."""
        worst = FLAG_ORDER.index(self.flags[0][0]) if self.flags else 9
        if self.state in ("submitted", "voided"):
            return 50 + worst
        if self.flags:
            return worst
        troubled = self.connection == "disconnected" or self.camera == "off"
        return (
            20
            if self.state == "in_progress" and troubled
            else 30
            if self.state == "in_progress"
            else 40
        )

    def as_dict(self) -> dict[str, Any]:
        """Codes, not words: one card goes to every wall of the room, whatever language each
        page is in; the page names them (``labels()``)."""
        return {
            "physician_id": self.physician_id,
            "attempt_id": self.attempt_id,
            "name": self.name,
            "masked_id": self.masked_id,
            "paper": self.paper,
            "state": self.state,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "remaining_seconds": self.remaining_seconds,
            "connection": self.connection,
            "camera": self.camera,
            "thumb": self.thumb,
            "thumb_id": self.thumb_id,
            "flags": [{"code": code, "count": n} for code, n in self.flags],
            "order": self.order,
        }


def labels() -> dict[str, dict[str, str]]:
    """The words for a card's codes in the page's language (the wall renders and patches
    cards with them)."""
    return {
        "state": {k: gettext(v) for k, v in STATE_LABELS.items()},
        "connection": {k: gettext(v) for k, v in CONNECTION_LABELS.items()},
        "camera": {k: gettext(v) for k, v in CAMERA_LABELS.items()},
        "flag": {k: gettext(v) for k, v in FLAG_LABELS.items()},
    }


def cards(
    session: ExamSession, now: datetime, physician_ids: list[int] | None = None
) -> list[Card]:
    """The session's candidates (or only ``physician_ids`` of them) as wall cards, most
    serious first: the first render of the wall and every live update use this (through
    :func:`cards_for`, which builds several sessions' at once)."""
    return cards_for({session.id: physician_ids}, now)[session.id]


@dataclass
class _Seat:
    """A card being built: a candidate in one session (a candidate held by two sessions of
    a window has a card in each), and its flags (code → count) until they are sorted."""

    session_id: int
    card: Card
    flags: dict[str, int] = field(default_factory=dict)


# The latest connection event and the latest camera event of each attempt, in the order of
# their time (then id): the last of each group wins, as the events happened.
_RANKED_EVENTS = (
    sa.select(
        ClientEvent.attempt_id,
        ClientEvent.kind,
        sa.func.row_number()
        .over(
            partition_by=(
                ClientEvent.attempt_id,
                sa.case((ClientEvent.kind.in_(CONNECTION_KINDS), 0), else_=1),
            ),
            order_by=(ClientEvent.at.desc(), ClientEvent.id.desc()),
        )
        .label("n"),
    )
    .where(
        ClientEvent.attempt_id.in_(sa.bindparam("attempt_ids", expanding=True)),
        ClientEvent.kind.in_([*CONNECTION_KINDS, *CAMERA_KINDS]),
    )
    .subquery()
)
_LATEST_EVENTS = sa.select(_RANKED_EVENTS.c.attempt_id, _RANKED_EVENTS.c.kind).where(
    _RANKED_EVENTS.c.n == 1
)


def cards_for(
    held: Mapping[int, Collection[int] | None],
    now: datetime,
    pause: Callable[[], object] | None = None,
) -> dict[int, list[Card]]:
    """Several sessions' cards at once: session id → the candidates to show (``None``: all
    of its candidates) gives session id → their cards, most serious first. A fixed number
    of statements whatever the number of sessions and candidates, reading columns only (a
    push builds every changed card of the process's sessions with it: docs/benchmarks.md,
    "The invigilators' cards, batched"). Each statement's rows are read whole, then
    ``pause()``, when given, lets other greenlets run: SQLite's statements do not yield, and
    a batched push runs on the serving process's event loop (``live.DueCards``). Only a
    task of its own may pause: a push at once runs inside the changing event, whose answer
    must not wait for other greenlets (``live.push_cards``)."""

    def read(statement: sa.Executable, params: dict[str, Any] | None = None) -> list[Any]:
        rows = list(db.session.execute(statement, params))
        if pause is not None:
            pause()
        return rows

    out: dict[int, list[Card]] = {sid: [] for sid in held}
    whole = [sid for sid, pids in held.items() if pids is None]
    some = {sid: set(pids) for sid, pids in held.items() if pids is not None}
    sc = session_candidates.c
    chosen: list[sa.ColumnElement[bool]] = []
    if whole:
        chosen.append(sc.session_id.in_(whole))
    if some:
        asked = sorted(set[int]().union(*some.values()))
        chosen.append(sa.and_(sc.session_id.in_(list(some)), sc.physician_id.in_(asked)))
    if not chosen:
        return out
    window_of: dict[int, int] = {}  # session → its window
    paper_of: dict[int, int] = {}  # session → its paper
    seats: dict[int, list[_Seat]] = {}  # physician → a seat per session holding them
    for sid, window_id, paper_id, paper_name, pid, name, id_number in read(
        sa.select(
            sc.session_id,
            ExamSession.window_id,
            Paper.id,
            Paper.name,
            Physician.id,
            Physician.name,
            Physician.id_number,
        )
        .select_from(session_candidates)
        .join(ExamSession, ExamSession.id == sc.session_id)
        .join(ExamWindow, ExamWindow.id == ExamSession.window_id)
        .join(Paper, Paper.id == ExamWindow.paper_id)
        .join(Physician, Physician.id == sc.physician_id)
        .where(sa.or_(*chosen))
    ):
        if sid in some and pid not in some[sid]:
            continue  # asked for in another session only
        window_of[sid], paper_of[sid] = window_id, paper_id
        seats.setdefault(pid, []).append(_Seat(sid, Card(pid, name, mask(id_number), paper_name)))
    if not seats:
        return out
    # (physician, window) → its attempt (id, status, deadline): the open one, else the latest
    attempts: dict[tuple[int, int], tuple[int, AttemptStatus, datetime]] = {}
    for attempt_id, pid, window_id, state, deadline in read(
        sa.select(
            Attempt.id, Attempt.physician_id, Attempt.window_id, Attempt.status, Attempt.deadline_at
        )
        .where(
            Attempt.physician_id.in_(list(seats)),
            Attempt.window_id.in_(sorted(set(window_of.values()))),
        )
        .order_by(Attempt.number, Attempt.id)
    ):
        current = attempts.get((pid, window_id))
        if current is None or current[1] != AttemptStatus.IN_PROGRESS:
            attempts[pid, window_id] = (attempt_id, state, deadline)
    by_attempt: dict[int, list[_Seat]] = {}
    session_attempts: dict[int, set[int]] = {sid: set() for sid in window_of}
    for pid, places in seats.items():
        for seat in places:
            attempt = attempts.get((pid, window_of[seat.session_id]))
            if attempt is None:
                continue
            attempt_id, state, deadline = attempt
            by_attempt.setdefault(attempt_id, []).append(seat)
            session_attempts[seat.session_id].add(attempt_id)
            card = seat.card
            card.attempt_id = attempt_id
            card.state = state.value
            if state == AttemptStatus.IN_PROGRESS:
                card.deadline = deadline
                card.remaining_seconds = max(0, int((deadline - now).total_seconds()))
                card.connection = "connected"
                card.camera = "none"
    ids = sorted(by_attempt)
    if ids:
        newest = read(
            sa.select(Snapshot.attempt_id, sa.func.max(Snapshot.id))
            .where(Snapshot.attempt_id.in_(ids), Snapshot.path.is_not(None))
            .group_by(Snapshot.attempt_id)
        )
        thumbs = evidence.tokens("snapshot", [snapshot_id for _, snapshot_id in newest])
        if pause is not None:
            pause()  # a thousand signatures take a while too
        for (attempt_id, snapshot_id), thumb in zip(newest, thumbs, strict=True):
            for seat in by_attempt[attempt_id]:
                seat.card.thumb, seat.card.thumb_id = thumb, snapshot_id
                if seat.card.camera == "none":
                    seat.card.camera = "on"
        for attempt_id, status, count in read(
            sa.select(Snapshot.attempt_id, Snapshot.status, sa.func.count())
            .where(
                Snapshot.attempt_id.in_(ids),
                FLAGGED_ROWS,  # the flagged snapshots' index (the statuses of FLAGGED)
                Snapshot.reviewed_at.is_(None),
            )
            .group_by(Snapshot.attempt_id, Snapshot.status)
        ):
            for seat in by_attempt[attempt_id]:
                seat.flags[FLAGGED[status]] = count
        live = [a for a in ids if by_attempt[a][0].card.state == "in_progress"]
        if live:
            for attempt_id, kind in read(_LATEST_EVENTS, {"attempt_ids": live}):
                for seat in by_attempt[attempt_id]:
                    if kind in CONNECTION_KINDS:
                        seat.card.connection = (
                            "disconnected" if kind == ClientEventKind.DISCONNECTED else "connected"
                        )
                    else:
                        seat.card.camera = "off" if kind == ClientEventKind.CAMERA_STOPPED else "on"
    for pid, check_attempt, paper_id in read(
        sa.select(EntryCheck.physician_id, EntryCheck.attempt_id, EntryCheck.paper_id).where(
            EntryCheck.physician_id.in_(list(seats)),
            EntryCheck.outcome == EntryOutcome.REVIEW,
            EntryCheck.reviewed_at.is_(None),
            sa.or_(
                EntryCheck.attempt_id.in_(ids),
                EntryCheck.paper_id.in_(sorted(set(paper_of.values()))),
            ),
        )
    ):  # counted in each session holding this attempt or paper
        for seat in seats[pid]:
            sid = seat.session_id
            if check_attempt in session_attempts[sid] or paper_id == paper_of[sid]:
                seat.flags["entry_review"] = seat.flags.get("entry_review", 0) + 1
    for (pid,) in read(
        sa.select(EntryOverride.physician_id)
        .where(EntryOverride.physician_id.in_(list(seats)), EntryOverride.revoked_at.is_(None))
        .distinct()
    ):
        for seat in seats[pid]:
            seat.flags["entry_override"] = 1
    for places in seats.values():
        for seat in places:
            seat.card.flags = sorted(seat.flags.items(), key=lambda f: FLAG_ORDER.index(f[0]))
            out[seat.session_id].append(seat.card)
    for found in out.values():
        found.sort(key=lambda c: (c.order, c.name, c.physician_id))
    return out


# The sessions holding these attempts' candidates, in a statement built once (every change
# of an attempt pushes its card: a start, a snapshot, a page event). The attempts are found
# by id first (SQLite would otherwise probe every attempt id for each session candidate).
_HELD = (
    sa.select(session_candidates.c.session_id, session_candidates.c.physician_id)
    .join(ExamSession, ExamSession.id == session_candidates.c.session_id)
    .where(
        sa.tuple_(session_candidates.c.physician_id, ExamSession.window_id).in_(
            sa.select(Attempt.physician_id, Attempt.window_id).where(
                Attempt.id.in_(sa.bindparam("attempt_ids", expanding=True))
            )
        )
    )
    .order_by(session_candidates.c.session_id, session_candidates.c.physician_id)
)


def card_updates(
    attempt_ids: Iterable[int], now: datetime, pause: Callable[[], object] | None = None
) -> dict[int, list[Card]]:
    """The cards of these attempts' candidates in every session holding them: session id →
    its changed cards, all built together (:func:`cards_for`; ``pause`` as there)."""
    held = db.session.execute(_HELD, {"attempt_ids": list(attempt_ids)}).all()
    if pause is not None:
        pause()
    by_session: dict[int, list[int]] = {}
    for session_id, physician_id in held:
        by_session.setdefault(session_id, []).append(physician_id)
    return cards_for(by_session, now, pause)


def watched_attempt(user: User, attempt_id: int) -> Attempt:
    """The attempt, if ``user`` may watch it (and act on it): 404 when there is none, 403
    when it is another session's."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None:
        raise Refused("not_found", N_("没有找到该测评"), status=404)
    if not watches_attempt(user, attempt):
        raise Refused("forbidden", N_("您不是该考生所在场次的监考人员"), status=403)
    return attempt


def watched_session(user: User, session_id: int) -> ExamSession:
    session = db.session.get(ExamSession, session_id)
    if session is None:
        raise Refused("not_found", N_("没有找到该场次"), status=404)
    if not watches(user, session_id):
        raise Refused("forbidden", N_("您不是该场次的监考人员"), status=403)
    return session


# --- the timeline of one attempt ------------------------------------------------------------


@dataclass
class Moment:
    """One line of the timeline: a snapshot, a page event or a warning, at its time."""

    at: datetime
    kind: str  # snapshot | event | warning
    item: Any


@dataclass
class Timeline:
    attempt: Attempt
    checks: list[EntryCheck]
    overrides: list[EntryOverride]
    moments: list[Moment]
    names: dict[int, str]  # user id → display name (reviewers, senders, granters)


def timeline(attempt: Attempt) -> Timeline:
    """Every snapshot, page event and warning of the attempt in time order, with the entry
    verifications of its candidate for its paper and any override."""
    checks = list(
        db.session.scalars(
            sa.select(EntryCheck)
            .where(
                EntryCheck.physician_id == attempt.physician_id,
                sa.or_(
                    EntryCheck.attempt_id == attempt.id,
                    sa.and_(
                        EntryCheck.attempt_id.is_(None), EntryCheck.paper_id == attempt.paper_id
                    ),
                ),
            )
            .order_by(EntryCheck.checked_at, EntryCheck.id)
        )
    )
    overrides = list(
        db.session.scalars(
            sa.select(EntryOverride)
            .where(EntryOverride.physician_id == attempt.physician_id)
            .order_by(EntryOverride.granted_at)
        )
    )
    moments = [
        Moment(s.received_at, "snapshot", s)
        for s in db.session.scalars(sa.select(Snapshot).where(Snapshot.attempt_id == attempt.id))
    ]
    moments += [
        Moment(e.at, "event", e)
        for e in db.session.scalars(
            sa.select(ClientEvent).where(ClientEvent.attempt_id == attempt.id)
        )
    ]
    warnings = list(
        db.session.scalars(sa.select(ProctorWarning).where(ProctorWarning.attempt_id == attempt.id))
    )
    moments += [Moment(w.sent_at, "warning", w) for w in warnings]
    moments.sort(key=lambda m: (m.at, m.kind))
    user_ids = {w.sent_by for w in warnings} | {o.granted_by for o in overrides}
    user_ids |= {c.reviewed_by for c in checks if c.reviewed_by}
    user_ids |= {m.item.reviewed_by for m in moments if m.kind == "snapshot" and m.item.reviewed_by}
    rows = db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(user_ids)))
    names = {uid: name for uid, name in rows}
    return Timeline(attempt, checks, overrides, moments, names)
