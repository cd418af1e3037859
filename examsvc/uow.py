"""The unit of work: the one place that commits or rolls back.

Every entry point is one unit, like Indico's request handler: an HTTP request (the app's
``dispatch_request``), a Socket.IO event (:func:`socket_event`), a CLI command and a
background job (:func:`transactional`). A unit commits when its function returns and
rolls back when it raises; operations only ``flush()``. A view that refuses and must
discard what it flushed raises (an ``ApiError``, or :class:`Discard` carrying the page to
render); a refusal that keeps its bookkeeping (a failed login's count) returns its page.

Conflicts (a unique constraint lost to another device or a double tap, a serialisation
failure on PostgreSQL) are retried here and only here: a unit marked with
:func:`retry_conflicts` is rolled back and run again from the start, :data:`ATTEMPTS`
times in all. Work that waits on the network or on face workers runs between units
(:func:`end_reads` ends a read-only transaction before such a wait).

It lives at the package's top level, not in ``web/``, because CLI commands and jobs use it
as much as the web does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import has_app_context
from sqlalchemy import event, orm
from sqlalchemy.exc import DBAPIError, IntegrityError

from examsvc.extensions import db

_WROTE = "uow.wrote"  # Session.info key: this transaction has flushed changes
_AFTER_COMMIT = "uow.after_commit"  # Session.info key: callbacks for after the commit
log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

ATTEMPTS = 3  # one policy for every unit that retries
# PostgreSQL: serialization_failure, deadlock_detected (psycopg's ``sqlstate``).
RETRIED_SQLSTATES = frozenset({"40001", "40P01"})


class Discard(Exception):
    """Roll the unit back, then answer with ``answer()`` (a refusal shown as a page, rendered
    from the database as it is without the refused change)."""

    def __init__(self, answer: Callable[[], Any]) -> None:
        super().__init__("unit discarded")
        self.answer = answer


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit what the block (and the session before it) did, or roll it all back (also
    when the commit itself fails, so that a retry starts from a clean session)."""
    db.session.info.pop(_AFTER_COMMIT, None)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.info.pop(_AFTER_COMMIT, None)
        db.session.rollback()
        raise
    for callback in db.session.info.pop(_AFTER_COMMIT, []):
        try:
            callback()
        except Exception:  # what was committed stays committed; a missed notice is logged
            log.exception("after-commit callback failed")


def after_commit(callback: Callable[[], Any], key: Hashable | None = None) -> None:
    """Run ``callback`` once the current unit has committed (never if it rolls back): live
    notices (the invigilators' wall, the candidate's page) must not announce what a
    rollback then takes back, nor be read before the commit makes them visible. With a
    ``key``, a callback of the same key already waiting in this unit makes this one moot
    (a unit that changes an attempt three times pushes its card once)."""
    callbacks = db.session.info.setdefault(_AFTER_COMMIT, [])
    if key is not None:
        if any(getattr(c, "uow_key", None) == key for c in callbacks):
            return
        callback = _Keyed(callback, key)
    callbacks.append(callback)


class _Keyed:
    def __init__(self, callback: Callable[[], Any], key: Hashable) -> None:
        self.callback = callback
        self.uow_key = key

    def __call__(self) -> Any:
        return self.callback()


def is_conflict(exc: BaseException) -> bool:
    """A conflict that running the unit again settles."""
    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in RETRIED_SQLSTATES


def run(fn: Callable[P, R], attempts: int = 1, *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn`` as one unit, run again after a conflict up to ``attempts`` times in all."""
    for attempt in range(1, attempts + 1):
        try:
            with unit_of_work():
                return fn(*args, **kwargs)
        except Exception as exc:
            if attempt == attempts or not is_conflict(exc):
                raise
    raise AssertionError("unreachable")


def dry_run(fn: Callable[[], Any]) -> None:
    """``fn`` as a unit that is always rolled back, whatever it did (``examsvc.warm``'s
    reads before serving); what it raises is raised."""
    try:
        fn()
    finally:
        db.session.info.pop(_AFTER_COMMIT, None)
        db.session.rollback()


def retry_conflicts(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark a view or an event: its unit is run again after a conflict (see :data:`ATTEMPTS`).
    Put it next to the function; decorators that use ``functools.wraps`` keep the mark."""
    fn.uow_attempts = ATTEMPTS  # type: ignore[attr-defined]
    return fn


def attempts_of(fn: Any) -> int:
    return int(getattr(fn, "uow_attempts", 1))


def transactional(fn: Callable[P, R]) -> Callable[P, R]:
    """A CLI command or a job as one unit (retried when marked with :func:`retry_conflicts`)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return run(fn, attempts_of(fn), *args, **kwargs)

    return wrapper


def socket_event(fn: Callable[P, R]) -> Callable[P, R]:
    """A Socket.IO event as one unit; its session ends with it (an event is not a request,
    and the greenlet's next event must not find this one's objects)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return run(fn, attempts_of(fn), *args, **kwargs)
        finally:
            db.session.remove()

    return wrapper


def dispatch(view: Callable[[], Any], attempts: int) -> Any:
    """An HTTP request as one unit: ``Flask.dispatch_request`` runs through this."""
    try:
        return run(view, attempts)
    except Discard as exc:  # rolled back by the unit; the answer only reads
        return exc.answer()


def release_if_read_only() -> None:
    """End the request's transaction before waiting, if it only read: a greenlet queued
    behind a login storm must not hold one of the few pooled connections. Loaded objects
    reload on their next use. A transaction that wrote anything keeps its connection."""
    if not has_app_context():
        return
    session = db.session
    if session.new or session.dirty or session.deleted or session.info.get(_WROTE):
        return
    session.rollback()


@event.listens_for(orm.Session, "after_flush")
def _flushed(session: orm.Session, context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(orm.Session, "after_transaction_end")
def _ended(session: orm.Session, transaction: orm.SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)


def end_reads() -> None:
    """End the session's read-only transaction before a long wait (face work, the network),
    so that it holds no pooled connection; objects loaded before reload on their next use."""
    session = db.session
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("commit or discard changes before waiting on face work")
    session.rollback()
