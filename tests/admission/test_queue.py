"""The admission queue's rules on the real database (SQLite, and PostgreSQL in CI's second
pass): FIFO places, the slots, a finished or expired verification freeing its slot, pages
that left, the estimate, and concurrent requests never admitting more than the slots."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from examsvc import uow
from examsvc.admission import operations as ops
from examsvc.admission.models import AdmissionTicket
from examsvc.extensions import db
from examsvc.roster.models import Physician
from tests.factories import create_cycle, create_physician

POLICY = ops.Policy(slots=2, timeout_seconds=90, stale_seconds=90)


@pytest.fixture
def people(app):
    cycle = create_cycle()
    ids = [create_physician(cycle).id for _ in range(6)]
    db.session.commit()
    return ids


def ask(physician_id, clock, policy=POLICY, rate=None):
    place = ops.request_admission(physician_id, clock.now(), policy, rate)
    db.session.commit()
    return place


def test_admitted_at_once_while_slots_are_free_then_queued_in_order(people, clock):
    a, b, c, d = people[:4]
    assert ask(a, clock).admitted and ask(b, clock).admitted
    third, fourth = ask(c, clock), ask(d, clock)
    assert (third.admitted, third.ahead) == (False, 1)
    assert (fourth.admitted, fourth.ahead) == (False, 2)
    # Asking again keeps the place (the same ticket), admitted or not.
    assert ask(a, clock).ticket_id == ask(a, clock).ticket_id
    assert ask(d, clock).ticket_id == fourth.ticket_id
    assert ask(d, clock).ahead == 2


def test_a_finished_verification_frees_its_slot_for_the_first_in_line(people, clock):
    a, b, c, d = people[:4]
    first, _ = ask(a, clock), ask(b, clock)
    ask(c, clock)
    ask(d, clock)
    clock.advance(seconds=20)
    ops.finish(first.ticket_id, clock.now())
    db.session.commit()
    # d asks first, but c is ahead: the one free slot is c's.
    assert not ask(d, clock).admitted
    admitted = ask(c, clock)
    assert admitted.admitted and admitted.waited_seconds == 20
    assert ask(d, clock).ahead == 1
    assert ops.admitted_ticket(c, clock.now(), POLICY).id == admitted.ticket_id
    assert ops.admitted_ticket(a, clock.now(), POLICY) is None  # finished: ask again to retry


def test_an_admission_expires_after_the_timeout(people, clock):
    a, b, c = people[:3]
    ask(a, clock)
    ask(b, clock)
    assert not ask(c, clock).admitted
    clock.advance(seconds=91)
    assert ops.admitted_ticket(a, clock.now(), POLICY) is None
    assert ask(c, clock).admitted
    # a's verification never ended: a asks again, behind c, and takes the other slot.
    again = ask(a, clock)
    assert again.admitted
    assert again.ticket_id > ops.admitted_ticket(c, clock.now(), POLICY).id


def test_a_page_that_stopped_asking_leaves_the_queue(people, clock):
    policy = ops.Policy(slots=2, timeout_seconds=600, stale_seconds=90)
    a, b, c, d = people[:4]
    first = ask(a, clock, policy)
    ask(b, clock, policy)
    ask(c, clock, policy)  # c closes the page
    assert ask(d, clock, policy).ahead == 2
    for _ in range(2):
        clock.advance(seconds=40)
        assert ask(d, clock, policy).ahead == 2  # d keeps asking, c is still counted
    clock.advance(seconds=40)
    assert ask(d, clock, policy).ahead == 1  # c, silent for 120 s, is not ahead any more
    assert ops.live_ticket(c, clock.now(), policy) is None
    ops.finish(first.ticket_id, clock.now())
    assert ask(d, clock, policy).admitted


def test_counts_and_the_estimate(people, clock):
    for p in people[:5]:
        ask(p, clock)
    assert ops.queue_length(clock.now(), POLICY) == (2, 3)
    last = ask(people[4], clock, rate=0.5)
    assert last.ahead == 3 and last.wait_seconds == 6
    assumed = ask(people[4], clock)  # nothing measured: slots / 15 s
    assert assumed.wait_seconds == pytest.approx(3 / (2 / ops.ASSUMED_SECONDS))
    # The first `slots` places ask every second; behind them a quarter of the wait, 2-20 s.
    assert [ops.poll_interval(ahead, 30, 2) for ahead in (1, 2)] == [ops.POLL_FRONT] * 2
    assert ops.poll_interval(3, 0, 2) == ops.POLL_MIN
    assert ops.poll_interval(3, 20, 2) == 5
    assert ops.poll_interval(3, 3600, 2) == ops.POLL_MAX


def test_a_freed_slot_is_the_turn_of_the_first_live_waiting(people, clock):
    """Whose turn it is when slots free: the first waiting in order, as many as the free
    slots, skipping a page that left (and never one in progress or finished)."""
    policy = ops.Policy(slots=2, timeout_seconds=600, stale_seconds=90)
    a, b, c, d, e = people[:5]
    user = {p: db.session.get(Physician, p).user_id for p in people}
    first, second = ask(a, clock, policy), ask(b, clock, policy)
    for p in (c, d, e):
        assert not ask(p, clock, policy).admitted
    assert ops.turns(clock.now(), policy) == []  # no slot free
    assert ops.next_waiting(clock.now(), policy, 5) == [user[c], user[d], user[e]]
    clock.advance(seconds=60)
    ask(e, clock, policy)  # e and d keep asking (e first: the order stays the tickets')
    ask(d, clock, policy)
    clock.advance(seconds=40)  # c, silent for 100 s, has left the queue
    ops.finish(first.ticket_id, clock.now())
    assert ops.turns(clock.now(), policy) == [user[d]]  # one free slot: the first live
    ops.finish(second.ticket_id, clock.now())
    assert ops.turns(clock.now(), policy) == [user[d], user[e]]
    assert ops.next_waiting(clock.now(), policy, 1) == [user[d]]
    assert ops.next_waiting(clock.now(), policy, 0) == []
    # The turn told is the ask's rule: d is admitted, and then e's turn is the one left.
    assert ask(d, clock, policy).admitted
    assert ops.turns(clock.now(), policy) == [user[e]]
    assert ask(e, clock, policy).admitted
    assert ops.turns(clock.now(), policy) == []


def test_the_rate_is_measured_from_finished_verifications(people, clock):
    assert ops.service_rate(clock.now()) is None
    for p in people:
        place = ask(p, clock, ops.Policy(slots=10))
        clock.advance(seconds=10)
        ops.finish(place.ticket_id, clock.now())
    db.session.commit()
    # six finished, the first 50 s before now: six over 50 s
    assert ops.service_rate(clock.now()) == pytest.approx(6 / 50)
    clock.advance(minutes=10)
    assert ops.service_rate(clock.now()) is None


def test_old_tickets_are_purged(people, clock):
    place = ask(people[0], clock)
    ops.finish(place.ticket_id, clock.now())
    ask(people[1], clock)
    clock.advance(minutes=31)
    ask(people[2], clock)
    assert ops.purge(clock.now()) == 2
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AdmissionTicket)) == 1


def test_concurrent_requests_never_admit_more_than_the_slots(app, people, clock):
    admitted: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(people))

    def run(physician_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                place = uow.run(ops.request_admission, 1, physician_id, clock.now(), POLICY)
                if place.admitted:
                    admitted.append(physician_id)
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(admitted) == POLICY.slots
    assert ops.queue_length(clock.now(), POLICY) == (2, len(people) - 2)
    # Then each of the waiting asks again at once: still never more than the slots.
    order = db.session.scalars(
        sa.select(AdmissionTicket.physician_id).order_by(AdmissionTicket.id)
    ).all()
    waiting = [p for p in order if p not in admitted]
    barrier = threading.Barrier(len(waiting))
    admitted.clear()
    threads = [threading.Thread(target=run, args=(p,)) for p in waiting]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert admitted == []
    first = db.session.scalars(
        sa.select(AdmissionTicket).where(AdmissionTicket.admitted_at.is_not(None))
    ).first()
    assert first is not None
    ops.finish(first.id, clock.now() + timedelta(seconds=1))
    db.session.commit()
    barrier = threading.Barrier(len(waiting))
    threads = [threading.Thread(target=run, args=(p,)) for p in waiting]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert admitted == [waiting[0]]  # the one freed slot, to the first in line
    assert ops.queue_length(clock.now(), POLICY) == (2, len(waiting) - 1)
