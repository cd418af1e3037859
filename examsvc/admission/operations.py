"""The admission queue's rules, as plain functions of the database and ``now``.

A ticket is *waiting* until admitted, and stays in the queue only while its page keeps
asking (``seen_at`` within ``stale_seconds``: a closed page leaves the queue by itself); it
is *in progress* from its admission until its verification finishes or ``timeout_seconds``
pass. A waiting candidate is admitted when the verifications in progress plus the live
tickets ahead of theirs leave a slot: FIFO, and never more in progress than ``slots``.

Admitting is serialised (PostgreSQL: a transaction-scoped advisory lock; SQLite: the first
write of the transaction takes the database's one write lock), so that concurrent
requests, in any web process, never admit more than the slots. An ask that cannot be
admitted takes no lock: one indexed count, and a write at most every ``REFRESH`` (or the new
ticket's insert). At a synchronised start that is nearly every first ask: measured on
PostgreSQL, a thousand first asks queued on the one lock held the web processes' pooled
connections while they waited. A ticket inserted concurrently with a smaller id but not yet
committed is not counted ahead of a later one for those few milliseconds; the slots still
hold, since admitting is serialised and the lock lasts until the admitting transaction
commits.

A freed slot is not left to the next poll: when a verification finishes, :func:`turns` names
the candidates whose turn it now is (the first live waiting tickets, as many as the free
slots), and the event tells their pages to ask at once (``admission_turn``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from examsvc.admission.models import AdmissionTicket
from examsvc.extensions import db
from examsvc.roster.models import Physician
from proctoring.pool import FacePool

LOCK_KEY = 0x65786164  # pg_advisory_xact_lock's key for admitting ("exad")
REFRESH = timedelta(seconds=30)  # a waiting page's presence is written at most this often
RATE_WINDOW = timedelta(minutes=5)  # finished verifications that measure the service rate
RATE_MIN_SAMPLES = 5  # fewer measured: assume ASSUMED_SECONDS per verification and slot
ASSUMED_SECONDS = 15.0
POLL_MIN, POLL_MAX = 2.0, 20.0  # seconds between a waiting page's asks
POLL_FRONT = 1.0  # ... and for the first ``slots`` places
KEEP = timedelta(minutes=30)  # tickets untouched for longer are purged


@dataclass(frozen=True)
class Policy:
    slots: int  # verifications in progress at once
    timeout_seconds: float = 90  # an admitted candidate's slot frees itself after this
    stale_seconds: float = 90  # a waiting page silent for longer has left the queue

    @classmethod
    def from_config(cls, config: Any) -> Policy:
        return cls(
            slots=slots_of(config),
            timeout_seconds=float(config["ADMISSION_TIMEOUT_SECONDS"]),
        )


def slots_of(config: Any) -> int:
    """``ADMISSION_SLOTS``, or twice the face workers (the pool keeps that many jobs in
    flight: one running and one ready per worker while the next candidate's frames are
    taken)."""
    if config["ADMISSION_SLOTS"] > 0:
        return int(config["ADMISSION_SLOTS"])
    return 2 * FacePool(config["FACE_WORKERS"]).workers


@dataclass(frozen=True)
class Place:
    """What the page is told: admitted, or its place and the estimated wait."""

    ticket_id: int
    admitted: bool
    ahead: int  # verifications to finish before this candidate's turn
    wait_seconds: float
    poll_in: float
    waited_seconds: float | None = None  # set when admitted by this call: time in the queue


def _waiting(now: datetime, policy: Policy) -> sa.ColumnElement[bool]:
    return sa.and_(
        AdmissionTicket.admitted_at.is_(None),
        AdmissionTicket.seen_at >= now - timedelta(seconds=policy.stale_seconds),
    )


def is_waiting(ticket: AdmissionTicket, now: datetime, policy: Policy) -> bool:
    return (
        ticket.finished_at is None
        and ticket.admitted_at is None
        and ticket.seen_at >= now - timedelta(seconds=policy.stale_seconds)
    )


def is_admitted(ticket: AdmissionTicket, now: datetime, policy: Policy) -> bool:
    return (
        ticket.finished_at is None
        and ticket.admitted_at is not None
        and ticket.admitted_at >= now - timedelta(seconds=policy.timeout_seconds)
    )


def live_ticket(physician_id: int, now: datetime, policy: Policy) -> AdmissionTicket | None:
    """The physician's ticket still waiting or in progress, if any."""
    ticket = db.session.scalars(
        sa.select(AdmissionTicket)
        .where(AdmissionTicket.physician_id == physician_id)
        .order_by(AdmissionTicket.id.desc())
        .limit(1)
    ).first()
    if ticket is None or not (is_waiting(ticket, now, policy) or is_admitted(ticket, now, policy)):
        return None
    return ticket


def _counts(ahead_of_one: bool) -> Any:
    """``counts``'s statement, built once: in progress (admitted within the timeout) and
    ``_waiting``, their times as parameters (``admitted_since``, ``seen_since``), and
    ``before_id``."""
    in_progress = AdmissionTicket.admitted_at >= sa.bindparam("admitted_since")
    waiting = sa.and_(
        AdmissionTicket.admitted_at.is_(None), AdmissionTicket.seen_at >= sa.bindparam("seen_since")
    )
    if ahead_of_one:
        waiting = sa.and_(waiting, AdmissionTicket.id < sa.bindparam("before_id"))
    return sa.select(sa.func.count().filter(in_progress), sa.func.count().filter(waiting)).where(
        AdmissionTicket.finished_at.is_(None), sa.or_(in_progress, waiting)
    )


_COUNTS = {ahead_of_one: _counts(ahead_of_one) for ahead_of_one in (True, False)}


def counts(before_id: int | None, now: datetime, policy: Policy) -> tuple[int, int]:
    """(in progress, live tickets waiting ahead of ``before_id`` — all of them with None):
    one count on the open tickets' index."""
    params: dict[str, Any] = {
        "admitted_since": now - timedelta(seconds=policy.timeout_seconds),
        "seen_since": now - timedelta(seconds=policy.stale_seconds),
    }
    if before_id is not None:
        params["before_id"] = before_id
    row = db.session.execute(_COUNTS[before_id is not None], params).one()
    return int(row[0]), int(row[1])


def queue_length(now: datetime, policy: Policy) -> tuple[int, int]:
    """(in progress, waiting) over the whole queue, for the metrics."""
    return counts(None, now, policy)


def _serialise(ticket_id: int, now: datetime) -> None:
    """Admitting one at a time across every process (see the module's note)."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_KEY)))
    else:  # SQLite: the transaction's first write takes the database's write lock
        session.execute(
            sa.update(AdmissionTicket).where(AdmissionTicket.id == ticket_id).values(seen_at=now)
        )


def request_admission(
    physician_id: int, now: datetime, policy: Policy, rate: float | None = None
) -> Place:
    """Admit the physician if a slot is free for them (FIFO), else tell them their place.
    ``rate`` is the measured verifications per second (``service_rate``), if known."""
    ticket = live_ticket(physician_id, now, policy)
    if ticket is not None and ticket.admitted_at is not None:
        return _place(ticket.id, True, 0, policy, rate)
    if ticket is None:  # a new ticket takes its place by its id, without the lock
        ticket = AdmissionTicket(physician_id=physician_id, requested_at=now, seen_at=now)
        db.session.add(ticket)
        db.session.flush()
    elif ticket.seen_at < now - REFRESH:  # a rare write: the page is still there
        ticket.seen_at = now
    in_progress, ahead = counts(ticket.id, now, policy)
    if in_progress + ahead >= policy.slots:  # no chance now: no lock
        return _place(ticket.id, False, in_progress + ahead - policy.slots + 1, policy, rate)
    _serialise(ticket.id, now)
    in_progress, ahead = counts(ticket.id, now, policy)
    if in_progress + ahead >= policy.slots:
        return _place(ticket.id, False, in_progress + ahead - policy.slots + 1, policy, rate)
    ticket.admitted_at = ticket.seen_at = now
    db.session.flush()
    return _place(ticket.id, True, 0, policy, rate, (now - ticket.requested_at).total_seconds())


def _place(
    ticket_id: int,
    admitted: bool,
    ahead: int,
    policy: Policy,
    rate: float | None,
    waited: float | None = None,
) -> Place:
    wait = estimated_wait(ahead, policy, rate)
    return Place(ticket_id, admitted, ahead, wait, poll_interval(ahead, wait, policy.slots), waited)


def estimated_wait(ahead: int, policy: Policy, rate: float | None) -> float:
    """Seconds until ``ahead`` verifications have finished, at the measured rate (or the
    assumed one before enough were measured)."""
    if ahead <= 0:
        return 0.0
    per_second = rate if rate else policy.slots / ASSUMED_SECONDS
    return ahead / per_second


def poll_interval(ahead: int, wait_seconds: float, slots: int) -> float:
    """When a waiting page asks again. A freed slot is pushed to the next in line
    (``admission_turn``); the asks cover the rest: a slot that expired instead of freeing, a
    page ahead that left, a push missed over a reconnect. The first ``slots`` places (those
    the next frees admit) ask every second, which adds at most ``slots`` asks a second
    however long the queue. Behind them a page asks after a quarter of its wait, between 2
    and 20 s: the few near the front often, a thousand behind them at most 50 times a
    second."""
    if ahead <= slots:
        return POLL_FRONT
    return float(min(POLL_MAX, max(POLL_MIN, math.ceil(wait_seconds / 4))))


def service_rate(now: datetime) -> float | None:
    """Verifications finished per second over the last minutes (None: too few measured)."""
    since = now - RATE_WINDOW
    finished, first = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(AdmissionTicket.finished_at)).where(
            AdmissionTicket.finished_at >= since
        )
    ).one()
    if finished < RATE_MIN_SAMPLES or first is None:
        return None
    first = first if first.tzinfo else first.replace(tzinfo=now.tzinfo)
    span = max(30.0, (now - first).total_seconds())
    return float(finished) / span


def admitted_ticket(physician_id: int, now: datetime, policy: Policy) -> AdmissionTicket | None:
    """The physician's ticket in progress, or None (not admitted, or the slot expired)."""
    ticket = live_ticket(physician_id, now, policy)
    return ticket if ticket is not None and ticket.admitted_at is not None else None


def finish(ticket_id: int, now: datetime) -> None:
    """The verification ended, whatever its outcome: its slot is free."""
    db.session.execute(
        sa.update(AdmissionTicket)
        .where(AdmissionTicket.id == ticket_id, AdmissionTicket.finished_at.is_(None))
        .values(finished_at=now)
    )


def next_waiting(now: datetime, policy: Policy, limit: int) -> list[int]:
    """The user ids of the first ``limit`` live waiting tickets, FIFO (a page silent for
    ``stale_seconds`` has left the queue and is skipped): on the open tickets' index."""
    if limit <= 0:
        return []
    user_ids = db.session.scalars(
        sa.select(Physician.user_id)
        .join(AdmissionTicket, AdmissionTicket.physician_id == Physician.id)
        .where(AdmissionTicket.finished_at.is_(None), _waiting(now, policy))
        .order_by(AdmissionTicket.id)
        .limit(limit)
    )
    return list(dict.fromkeys(user_ids))  # one physician, one ticket; kept in order anyway


def turns(now: datetime, policy: Policy) -> list[int]:
    """Whose turn it is now (user ids): the first waiting, as many as the slots free. Those
    a ``request_admission`` now would admit, read without the lock: told to ask, not
    admitted (the ask decides)."""
    in_progress, waiting = counts(None, now, policy)
    if not waiting:  # nobody to tell: no second statement
        return []
    return next_waiting(now, policy, policy.slots - in_progress)


def purge(now: datetime) -> int:
    """Drop tickets untouched for ``KEEP`` (finished, expired or left long ago)."""
    result = db.session.execute(
        sa.delete(AdmissionTicket).where(AdmissionTicket.seen_at < now - KEEP)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
