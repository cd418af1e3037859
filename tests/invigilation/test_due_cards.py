"""The wall's cards pushed together in a serving process: every change of
``CARD_PUSH_SECONDS`` in one push, each session's changed cards built in one read, over a
real Socket.IO test client. The background task is the one thing replaced: the test holds
the scheduled push and runs it itself (time is injected, never slept on)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from examsvc import uow
from examsvc.camera.models import ClientEventKind, SnapshotStatus
from examsvc.extensions import db, socketio
from examsvc.invigilation import live
from examsvc.invigilation.events import NAMESPACE
from examsvc.signals import attempt_changed
from tests.invigilation.factories import create_event, create_hall, create_snapshot, log_in
from tests.statements import recorded_statements


@pytest.fixture
def hall(app, clock):
    return create_hall(clock.now())


@pytest.fixture
def scheduled(app):
    """The pushes ``DueCards`` asked to run in the background, not yet run."""
    waiting: list = []
    app.extensions["examsvc.due_cards"] = live.DueCards(app, 1.0, waiting.append)
    return waiting


def wall(app, user, session_id):
    ws = socketio.test_client(
        app, namespace=NAMESPACE, flask_test_client=log_in(app.test_client(), user)
    )
    ack = ws.emit("join", {"session_id": session_id}, namespace=NAMESPACE, callback=True)
    assert ack["ok"], ack
    ws.get_received(NAMESPACE)
    return ws


def cards(ws):
    return [m["args"][0]["card"] for m in ws.get_received(NAMESPACE) if m["name"] == "candidate"]


def change(attempt, clock, kind=ClientEventKind.DISCONNECTED, seconds=0):
    with uow.unit_of_work():
        create_event(attempt, kind, clock.now() + timedelta(seconds=seconds))
        attempt_changed.send(attempt.id)


def test_the_changes_of_one_interval_reach_each_wall_once_per_candidate(
    app, hall, clock, scheduled
):
    mine, theirs = wall(app, hall.mine, hall.session.id), wall(app, hall.theirs, hall.other.id)

    change(hall.attempt_a, clock)
    change(hall.attempt_b, clock)
    change(hall.attempt_c, clock)
    change(hall.attempt_a, clock, ClientEventKind.RECONNECTED, seconds=5)  # a again
    with pytest.raises(RuntimeError), uow.unit_of_work():  # rolled back: never due
        create_snapshot(hall.attempt_b, clock.now(), SnapshotStatus.MISMATCH)
        attempt_changed.send(hall.attempt_b.id)
        raise RuntimeError("the unit fails")

    assert len(scheduled) == 1  # one push for the interval, however many changes
    assert cards(mine) == [] and cards(theirs) == []  # nothing before it runs

    scheduled.pop()()  # the push, as the background task runs it after the interval

    pushed = cards(mine)
    assert sorted(c["name"] for c in pushed) == ["张三", "李四"]  # one card per candidate
    by_name = {c["name"]: c for c in pushed}
    assert by_name["张三"]["connection"] == "connected"  # the latest change of a wins
    assert by_name["李四"]["connection"] == "disconnected" and by_name["李四"]["flags"] == []
    assert [c["name"] for c in cards(theirs)] == ["赵六"]  # the other session's wall only

    change(hall.attempt_b, clock, ClientEventKind.RECONNECTED, seconds=5)
    assert len(scheduled) == 1  # the next change starts the next interval
    scheduled.pop()()
    [card] = cards(mine)
    assert card["name"] == "李四" and card["connection"] == "connected"
    assert cards(theirs) == []
    mine.disconnect(NAMESPACE)
    theirs.disconnect(NAMESPACE)


def test_a_session_s_changed_cards_are_built_in_one_read(app, hall, clock):
    """Pushing two candidates of a session costs the statements of pushing one."""

    def statements(attempt_ids):
        db.session.expire_all()
        with recorded_statements() as seen:
            live.push_cards(attempt_ids)
        return len(seen)

    one = statements([hall.attempt_a.id])
    assert statements([hall.attempt_a.id, hall.attempt_b.id]) == one


def test_a_process_that_does_not_serve_pushes_a_card_at_once(app, hall, clock):
    """A face worker's job, a command, a test: no loop would push it later."""
    assert "examsvc.due_cards" not in app.extensions
    mine = wall(app, hall.mine, hall.session.id)
    change(hall.attempt_a, clock)
    [card] = cards(mine)
    assert card["name"] == "张三" and card["connection"] == "disconnected"
    mine.disconnect(NAMESPACE)


def test_only_the_serving_loop_s_own_push_lets_other_greenlets_run(app, hall, clock, scheduled):
    """A push at once runs inside the unit that changed the card (a Socket.IO event's
    after-commit, before its acknowledgement): no other greenlet runs in it — a snapshot's
    analysis waiting to start ran there, and the event waited for the whole analysis. The
    serving loop's push (``DueCards``, a task of its own) lets the loop go as it builds."""
    mine = wall(app, hall.mine, hall.session.id)
    ran: list[str] = []
    due = app.extensions.pop("examsvc.due_cards")  # at once, as a command, a job or a test
    waiting = socketio.start_background_task(ran.append, "other task")  # not yet run
    change(hall.attempt_a, clock)
    [card] = cards(mine)
    assert card["name"] == "张三" and card["connection"] == "disconnected"
    assert ran == []  # the push at once kept the thread to itself
    waiting.join()
    assert ran == ["other task"]

    app.extensions["examsvc.due_cards"] = due  # pushed together (``scheduled``)
    change(hall.attempt_b, clock)
    waiting = socketio.start_background_task(ran.append, "during the push")
    scheduled.pop()()  # the serving loop's push, as its background task runs it
    assert ran == ["other task", "during the push"]  # it let the loop go
    [card] = cards(mine)
    assert card["name"] == "李四" and card["connection"] == "disconnected"
    waiting.join()
    mine.disconnect(NAMESPACE)


def test_a_serving_process_pushes_together_unless_the_interval_is_0(app):
    live.start(app)
    assert isinstance(app.extensions.pop("examsvc.due_cards"), live.DueCards)
    app.config["CARD_PUSH_SECONDS"] = 0
    live.start(app)
    assert "examsvc.due_cards" not in app.extensions
