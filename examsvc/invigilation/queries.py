"""An invigilator's sessions, with their candidates (the admin dashboard shows them)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from examsvc.accounts.ids import mask
from examsvc.accounts.models import User
from examsvc.attempts.models import Attempt
from examsvc.camera.models import (
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
    serious first: the first render of the wall and every live update use this."""
    query = (
        sa.select(Physician)
        .join(session_candidates, session_candidates.c.physician_id == Physician.id)
        .where(session_candidates.c.session_id == session.id)
    )
    if physician_ids is not None:
        query = query.where(Physician.id.in_(physician_ids))
    people = list(db.session.scalars(query))
    paper = session.window.paper
    found = {p.id: Card(p.id, p.name, mask(p.id_number), paper.name) for p in people}
    attempts: dict[int, Attempt] = {}
    for attempt in db.session.scalars(
        sa.select(Attempt)
        .where(Attempt.physician_id.in_(list(found)), Attempt.window_id == session.window_id)
        .order_by(Attempt.number)
    ):
        current = attempts.get(attempt.physician_id)
        if current is None or current.status != AttemptStatus.IN_PROGRESS:
            attempts[attempt.physician_id] = attempt  # the open one, else the latest
    by_attempt = {a.id: found[pid] for pid, a in attempts.items()}
    for pid, attempt in attempts.items():
        card = found[pid]
        card.attempt_id = attempt.id
        card.state = attempt.status.value
        if attempt.status == AttemptStatus.IN_PROGRESS:
            card.deadline = attempt.deadline_at
            card.remaining_seconds = max(0, int((attempt.deadline_at - now).total_seconds()))
            card.connection = "connected"
            card.camera = "none"
    ids = list(by_attempt)
    flags: dict[int, dict[str, int]] = {pid: {} for pid in found}
    if ids:
        newest = (
            sa.select(sa.func.max(Snapshot.id))
            .where(Snapshot.attempt_id.in_(ids), Snapshot.path.is_not(None))
            .group_by(Snapshot.attempt_id)
        )
        for snap in db.session.scalars(sa.select(Snapshot).where(Snapshot.id.in_(newest))):
            card = by_attempt[snap.attempt_id]
            card.thumb = evidence.token("snapshot", snap.id)
            card.thumb_id = snap.id
            if card.camera == "none":
                card.camera = "on"
        for attempt_id, status, count in db.session.execute(
            sa.select(Snapshot.attempt_id, Snapshot.status, sa.func.count())
            .where(
                Snapshot.attempt_id.in_(ids),
                Snapshot.status.in_(list(FLAGGED)),
                Snapshot.reviewed_at.is_(None),
            )
            .group_by(Snapshot.attempt_id, Snapshot.status)
        ):
            flags[by_attempt[attempt_id].physician_id][FLAGGED[status]] = count
        for attempt_id, kind in db.session.execute(
            sa.select(ClientEvent.attempt_id, ClientEvent.kind)
            .where(
                ClientEvent.attempt_id.in_(ids),
                ClientEvent.kind.in_([*CONNECTION_KINDS, *CAMERA_KINDS]),
            )
            .order_by(ClientEvent.at, ClientEvent.id)
        ):  # the last of each kind wins
            card = by_attempt[attempt_id]
            if card.state != "in_progress":
                continue
            if kind in CONNECTION_KINDS:
                card.connection = (
                    "disconnected" if kind == ClientEventKind.DISCONNECTED else "connected"
                )
            else:
                card.camera = "off" if kind == ClientEventKind.CAMERA_STOPPED else "on"
    for check in db.session.scalars(
        sa.select(EntryCheck).where(
            EntryCheck.physician_id.in_(list(found)),
            EntryCheck.outcome == EntryOutcome.REVIEW,
            EntryCheck.reviewed_at.is_(None),
            sa.or_(EntryCheck.attempt_id.in_(ids), EntryCheck.paper_id == paper.id),
        )
    ):
        flags[check.physician_id]["entry_review"] = (
            flags[check.physician_id].get("entry_review", 0) + 1
        )
    for override in db.session.scalars(
        sa.select(EntryOverride).where(
            EntryOverride.physician_id.in_(list(found)), EntryOverride.revoked_at.is_(None)
        )
    ):
        flags[override.physician_id]["entry_override"] = 1
    for pid, card in found.items():
        card.flags = sorted(flags[pid].items(), key=lambda f: FLAG_ORDER.index(f[0]))
    return sorted(found.values(), key=lambda c: (c.order, c.name, c.physician_id))


# The sessions holding these attempts' candidates, in a statement built once (every change
# of an attempt pushes its card: a start, a snapshot, a page event).
_HELD = (
    sa.select(session_candidates.c.session_id, Attempt.physician_id)
    .join(ExamSession, ExamSession.id == session_candidates.c.session_id)
    .join(
        Attempt,
        sa.and_(
            Attempt.physician_id == session_candidates.c.physician_id,
            Attempt.window_id == ExamSession.window_id,
        ),
    )
    .where(Attempt.id.in_(sa.bindparam("attempt_ids", expanding=True)))
    .distinct()
    .order_by(session_candidates.c.session_id, Attempt.physician_id)
)


def card_updates(attempt_ids: Iterable[int], now: datetime) -> Iterator[tuple[int, list[Card]]]:
    """The cards of these attempts' candidates, session by session: (session id, its
    cards), each session's built together when the caller asks for it."""
    held = db.session.execute(_HELD, {"attempt_ids": list(attempt_ids)})
    by_session: dict[int, list[int]] = {}
    for session_id, physician_id in held:
        by_session.setdefault(session_id, []).append(physician_id)
    for session_id, physician_ids in by_session.items():
        session = db.session.get(ExamSession, session_id)
        assert session is not None
        yield session_id, cards(session, now, physician_ids)


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
