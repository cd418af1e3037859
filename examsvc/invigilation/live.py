"""Live notices, sent once the unit of work has committed (``uow.after_commit``): a
candidate's card to the walls of the sessions holding them (``/invigilate``, room
``session:<id>``), and an invigilator's warning or void to the candidate (``/exam``, room
``user:<id>``). Nothing is announced that a rollback takes back."""

from __future__ import annotations

from typing import Any

from examsvc import uow
from examsvc.clock import now
from examsvc.extensions import socketio
from examsvc.invigilation import queries

NAMESPACE = "/invigilate"
EXAM_NAMESPACE = "/exam"


def session_room(session_id: int) -> str:
    return f"session:{session_id}"


def attempt_changed(attempt_id: int, **_: Any) -> None:
    """``examsvc.signals.attempt_changed``'s receiver: push the card after the commit, once
    per attempt and unit however often the unit announced it."""
    uow.after_commit(lambda: push_card(attempt_id), key=("invigilation.card", attempt_id))


def push_card(attempt_id: int) -> None:
    """The candidate's card to every session holding them (read after the commit, in a
    read-only transaction of its own that ends here: a job's session holds no connection)."""
    try:
        updates = queries.card_updates(attempt_id, now())
    finally:
        uow.end_reads()
    for session_id, card in updates:
        socketio.emit(
            "candidate", {"card": card.as_dict()}, to=session_room(session_id), namespace=NAMESPACE
        )


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
