"""The queue's Socket.IO event on the exam channel, and what ``entry_frames`` asks of it.

``admission`` {} → {ok, admitted, ahead, wait_seconds, wait_minutes, poll_in}: the page asks
to be admitted to the entry face verification; waiting, it asks again after ``poll_in``
seconds. ``entry_frames`` runs only for an admitted candidate (:func:`admit`, else 409
``not_admitted``: the page queues again) and frees the slot when done (:func:`release`).

The first-login face check (首次登录人脸核验, ``claim_frames`` on ``/claim``) queues the same
way on its own channel: ``admission`` is answered there too (``examsvc.camera.events``).

``admission_turn`` {} (server → page, room ``user:<id>`` on ``/exam`` and ``/claim``): a slot
has freed and it is this candidate's turn; a waiting page asks (``admission``) at once
instead of at ``poll_in``. Sent to as many of the first waiting as there are free slots,
through the message queue when scaled out (every process's pages); a hint, not an
admission: the ask decides."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, current_app
from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import BaseModel, ConfigDict

from examsvc import metrics, uow
from examsvc.admission import operations as ops
from examsvc.attempts.events import NAMESPACE
from examsvc.clock import now
from examsvc.extensions import socketio
from examsvc.marks import N_
from examsvc.roster.queries import logged_in_physician_id
from examsvc.web.errors import ApiError
from examsvc.web.sockets import acknowledged

log = logging.getLogger(__name__)
RATE_CACHE = "examsvc.admission.rate"  # app.extensions key
RATE_CACHE_SECONDS = 10.0  # the measured rate, read once per process this often
TURN = "admission_turn"  # server → page: a slot is free for you, ask now
CLAIM = "/claim"  # 首次登录人脸核验's channel (examsvc.camera.events.CLAIM), queued as well


class AdmissionMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _policy() -> ops.Policy:
    return ops.Policy.from_config(current_app.config)


def _physician_id() -> int:
    """The logged-in physician's id, decided as ``logged_in_physician`` decides, in one
    narrow statement: a waiting page asks every few seconds."""
    physician_id = logged_in_physician_id()
    if physician_id is None:
        raise ApiError(401, "unauthorized", N_("请先登录"))
    return physician_id


def _measured_rate() -> float | None:
    """The service rate, cached in the process for a few seconds: each poll stays one
    count."""
    cache = current_app.extensions.setdefault(RATE_CACHE, {})
    if cache and time.monotonic() - cache["read_at"] < RATE_CACHE_SECONDS:
        return cast(float | None, cache["rate"])
    rate = ops.service_rate(now())
    cache.update(read_at=time.monotonic(), rate=rate)
    return rate


def _observe(place: ops.Place) -> None:
    if place.waited_seconds is not None:  # admitted by this call
        metrics.ADMISSION_WAIT_SECONDS.observe(place.waited_seconds)


def _answer(place: ops.Place) -> dict[str, Any]:
    _observe(place)
    return {
        "ok": True,
        "admitted": place.admitted,
        "ahead": place.ahead,
        "wait_seconds": round(place.wait_seconds),
        "wait_minutes": max(1, math.ceil(place.wait_seconds / 60)) if place.ahead else 0,
        "poll_in": place.poll_in,
    }


@uow.socket_event
def _admission(message: AdmissionMessage) -> dict[str, Any]:
    place = ops.request_admission(_physician_id(), now(), _policy(), _measured_rate())
    return _answer(place)


for _namespace in (NAMESPACE, CLAIM):
    socketio.on_event("admission", acknowledged(_admission, AdmissionMessage), namespace=_namespace)


def admit(physician_id: int) -> int:
    """The admitted candidate's ticket, admitting them if a slot is free for them now (an
    empty queue needs no wait); otherwise they keep their place and are refused with 409
    ``not_admitted``. A unit of its own inside the event (the event's session stays)."""
    place = uow.run(ops.request_admission, 1, physician_id, now(), _policy())
    if not place.admitted:
        raise ApiError(409, "not_admitted", N_("正在排队等候人脸验证，请稍候"))
    _observe(place)
    return place.ticket_id


def release(ticket_id: int) -> None:
    """Free the slot after the verification (if the database refuses, the timeout will),
    then tell the next in line: a freed slot does not wait for their next poll."""
    try:
        uow.run(ops.finish, 1, ticket_id, now())
    except Exception:
        log.exception("admission slot not released (it expires by itself)")
        return
    tell_turns()


def tell_turns() -> None:
    """``admission_turn`` to the candidates whose turn it is now (:func:`ops.turns`), after
    the slot's release committed. Never fails the caller: a candidate not told asks at their
    ``poll_in`` all the same."""
    try:
        user_ids = uow.run(ops.turns, 1, now(), _policy())
        for user_id in user_ids:  # the candidate's page is on one channel or the other
            for namespace in (NAMESPACE, CLAIM):
                socketio.emit(TURN, {}, to=f"user:{user_id}", namespace=namespace)
    except Exception:
        log.exception("admission turn not told (the page's poll covers it)")


def scheduled_purge(app: Flask) -> int:
    """The periodic job (``examsvc serve``): old tickets go."""
    return ops.purge(now())


class QueueGauges:
    """Gauges read when ``/metrics`` is scraped: the queue's length and the slots in use."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        try:  # in the scrape's request, like the other live gauges
            in_progress, waiting = ops.queue_length(now(), _policy())
        except sa.exc.SQLAlchemyError:  # the database's trouble is /readyz's to report
            return
        gauge = GaugeMetricFamily(
            "examsvc_admission_queue",
            "Candidates waiting for, and in, the entry face verification.",
            labels=["state"],
        )
        gauge.add_metric(["waiting"], waiting)
        gauge.add_metric(["in_progress"], in_progress)
        yield gauge
        slots = GaugeMetricFamily("examsvc_admission_slots", "Verifications admitted at once.")
        slots.add_metric([], ops.slots_of(self.app.config))
        yield slots
