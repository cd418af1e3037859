"""What every Socket.IO event with an acknowledgement does the same way.

The message is validated into its pydantic model, the event's unit of work runs with it
(``uow.socket_event``), and every outcome is acknowledged: the unit's answer, a refusal in
the one error shape (``error_ack``), or a failure mapped as over HTTP
(``web.errors.failure``): 503 ``busy`` when no database connection came free in time or
``database_unavailable`` (both with ``retry_after``), 422 ``invalid`` for data the database
refuses, or a logged 500 — the client keeps what it sent and tries again. The user loaded
for the event is forgotten before and after it: an event is not a request, and the
connection's next event must not find this one's objects."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g
from flask_socketio import ConnectionRefusedError
from pydantic import BaseModel

from examsvc import drain, logs
from examsvc.marks import N_
from examsvc.web.errors import (
    ApiError,
    database_failure,
    error_ack,
    error_body,
    failure,
    shed,
    validate,
)
from examsvc.web.inputs import BAD_JSON, UNREADABLE_EVENT

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)


def acknowledged(
    unit: Callable[[M], dict[str, Any]], model: type[M]
) -> Callable[..., dict[str, Any]]:
    """The handler of an event: ``socketio.on_event(name, acknowledged(unit, Model), …)``."""

    def handler(data: Any = None) -> dict[str, Any]:
        g.pop("user", None)
        g.request_id = logs.new_request_id()  # each event its own id in the logs
        try:
            with drain.tracked():  # a graceful stop lets it finish
                return unit(validate(model, data))
        except Exception as exc:  # the HTTP handlers' mapping: a busy one counted by error_ack
            return error_ack(failure(exc, f"socket event {getattr(unit, '__name__', unit)}"))
        finally:
            g.pop("user", None)

    return handler


def unknown_event(event: Any, *args: Any) -> dict[str, Any]:
    """A namespace's catch-all (``socketio.on("*")``): any other event, and a packet whose
    JSON could not be read (``SocketPacket``)."""
    if event == UNREADABLE_EVENT:
        return ApiError(400, "bad_json", BAD_JSON).to_ack()
    return ApiError(400, "unknown_event", N_("不支持此操作")).to_ack()


def refused_when_busy(connect: Callable[..., None]) -> Callable[..., None]:
    """A namespace's ``connect`` handler, its database out of connections or away: the
    connection is refused with ``busy`` or ``database_unavailable`` in the one error shape
    (``retry_after`` in it; the page connects again after it), never an exception that
    leaves the client waiting for an answer that does not come."""

    @wraps(connect)
    def handler(*args: Any) -> None:
        try:
            connect(*args)
        except Exception as exc:
            error = database_failure(exc, "socket connect")
            if error is None:
                raise
            shed("socket", error)
            raise ConnectionRefusedError(error.code, error_body(error)["error"]) from None

    return handler
