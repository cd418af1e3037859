"""Live notices, sent once the unit of work has committed (``uow.after_commit``): a
candidate's card to the walls of the sessions holding them (``/invigilate``, room
``session:<id>``; the changes of ``CARD_PUSH_SECONDS`` pushed together), and an
invigilator's warning or void to the candidate (``/exam``, room ``user:<id>``, at once).
Nothing is announced that a rollback takes back."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from flask import Flask, current_app

from examsvc import uow
from examsvc.clock import now
from examsvc.extensions import db, socketio
from examsvc.invigilation import queries

NAMESPACE = "/invigilate"
EXAM_NAMESPACE = "/exam"
log = logging.getLogger(__name__)


def session_room(session_id: int) -> str:
    return f"session:{session_id}"


def attempt_changed(attempt_id: int, **_: Any) -> None:
    """``examsvc.signals.attempt_changed``'s receiver: the card is due once the unit has
    committed, once per attempt and unit however often the unit announced it."""
    uow.after_commit(lambda: card_due(attempt_id), key=("invigilation.card", attempt_id))


class DueCards:
    """The attempts whose card changed since this process last pushed, pushed together
    ``delay`` seconds after the first of them: a candidate's snapshot is stored and then
    analysed a moment later, and forty candidates of a session change every few seconds;
    one push builds each session's changed cards in one read instead of one per change.
    ``schedule(fn)`` runs ``fn`` in the background (the Socket.IO server's task, or a
    thread: :func:`start_threaded`), which waits with ``sleep``."""

    def __init__(
        self,
        app: Flask,
        delay: float,
        schedule: Callable[[Callable[[], None]], Any],
        sleep: Callable[[float], Any] | None = None,
    ):
        self.app = app
        self.delay = delay
        self.schedule = schedule
        self.sleep = sleep or socketio.sleep
        self.attempt_ids: set[int] = set()
        self.waiting = False  # a push is scheduled
        self._lock = threading.Lock()  # add (a job) and push (the timer) on two threads

    def add(self, attempt_id: int) -> None:
        with self._lock:
            self.attempt_ids.add(attempt_id)
            if self.waiting:
                return
            self.waiting = True
        self.schedule(self._later)

    def _later(self) -> None:
        self.sleep(self.delay)
        self.push()

    def push(self) -> None:
        with self._lock:
            attempt_ids, self.attempt_ids, self.waiting = sorted(self.attempt_ids), set(), False
        if not attempt_ids:
            return
        with self.app.app_context():
            try:  # its own task (nothing waits on it): it lets the loop go as it builds
                push_cards(attempt_ids, pause=lambda: self.sleep(0))
            except Exception:  # a missed push is logged; the wall's next render has it
                log.exception("cards of %d attempts not pushed", len(attempt_ids))
            finally:
                db.session.remove()


def start(app: Flask) -> None:
    """In a serving process (``examsvc serve``, a gunicorn worker): changed cards wait
    ``CARD_PUSH_SECONDS`` to be pushed together. Elsewhere (a command, a test) there is no
    loop to push them later: each goes at once; an RQ face worker waits on a thread
    (:func:`start_threaded`)."""
    delay = float(app.config["CARD_PUSH_SECONDS"])
    if delay > 0:
        app.extensions["examsvc.due_cards"] = DueCards(app, delay, socketio.start_background_task)


def start_threaded(app: Flask) -> DueCards | None:
    """In an RQ face worker (no event loop: a job at a time, :mod:`examsvc.face_worker`):
    the cards its decisions changed wait ``CARD_PUSH_SECONDS`` on a thread, as in a serving
    process, instead of one card read and push per job; whatever is still due when the
    worker stops is pushed as it exits (``atexit``; a worker killed outright loses at most
    that many seconds of pushes, which the wall's next render shows)."""
    delay = float(app.config["CARD_PUSH_SECONDS"])
    if delay <= 0:
        return None

    def in_thread(fn: Callable[[], None]) -> None:
        threading.Thread(target=fn, name="card-push", daemon=True).start()

    due = DueCards(app, delay, in_thread, sleep=time.sleep)
    app.extensions["examsvc.due_cards"] = due
    atexit.register(due.push)
    return due


def card_due(attempt_id: int) -> None:
    """Push the candidate's card to the walls: with the other changes of the next
    ``CARD_PUSH_SECONDS`` in a serving process (:func:`start`), else at once."""
    due = current_app.extensions.get("examsvc.due_cards")
    if due is None:
        push_cards([attempt_id])
    else:
        cast(DueCards, due).add(attempt_id)


def push_cards(attempt_ids: list[int], pause: Callable[[], object] | None = None) -> None:
    """The candidates' cards to every session holding them (read in a read-only transaction
    of its own that ends here: a job's session holds no connection). Every session's cards
    are built together in a few statements (``queries.cards_for``), then sent a session at
    a time. With ``pause`` (``DueCards``' push, a task of its own on the serving process's
    loop) the loop is let go after each statement and between sessions: at 1,000
    candidates, built session by session, a push held the event loop for over 100 ms every
    second.

    A push at once (:func:`card_due` without ``DueCards``) gets no ``pause``: it runs in
    the after-commit of the unit that changed the card, inside a Socket.IO event before its
    acknowledgement, and must not hand the thread to other greenlets there. A snapshot's
    analysis spawned by the event before would run in the middle of the next event: where
    there is no face pool (a command, a test) the engine runs in the greenlet itself and
    holds the thread, and the event's answer waited for a whole analysis (the batched cards'
    revert, docs/benchmarks.md)."""
    try:
        updates = queries.card_updates(attempt_ids, now(), pause=pause)
        for session_id, cards in updates.items():
            for card in cards:
                socketio.emit(
                    "candidate",
                    {"card": card.as_dict()},
                    to=session_room(session_id),
                    namespace=NAMESPACE,
                )
            if pause is not None:
                pause()
    finally:
        uow.end_reads()


def tell_candidate(user_id: int, event: str, payload: dict[str, Any]) -> None:
    """``event`` to every exam page of this candidate, after the commit."""
    uow.after_commit(
        lambda: socketio.emit(event, payload, to=f"user:{user_id}", namespace=EXAM_NAMESPACE)
    )


def reseat(session_id: int) -> None:
    """After the session's invigilators changed: every wall in its room is asked to join
    again (``rejoin``) and the room is emptied, so that only those still assigned come back
    (``join`` checks them again). After the commit."""

    def empty_room() -> None:
        room = session_room(session_id)
        socketio.emit("rejoin", {"session_id": session_id}, to=room, namespace=NAMESPACE)
        socketio.close_room(room, namespace=NAMESPACE)

    uow.after_commit(empty_room, key=("invigilation.reseat", session_id))
