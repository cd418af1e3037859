"""A physician with a real registration photo (Obama's, encoded by the face engine), a paper
with a window open now, logged in on ``client``, not yet past the gate."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from flask import g
from PIL import Image

from examsvc.attempts import events as _attempt_events  # noqa: F401
from examsvc.attempts.events import NAMESPACE
from examsvc.camera import (
    analysis,
    events,  # noqa: F401  (registered before the first app: see below)
)
from examsvc.enums import PhotoStatus, Procedure
from examsvc.extensions import db, socketio
from examsvc.invigilation import events as _invigilation_events  # noqa: F401
from examsvc.signals import attempt_changed
from proctoring import jobs
from tests.attempts.conftest import candidate, exam  # noqa: F401  (fixtures)
from tests.attempts.test_attempts import start
from tests.factories import create_cycle, create_physician
from tests.factories_exam import create_bank, create_paper, create_window

CONTACT = "湖南省医师定考中心 0731-84000000"


@pytest.fixture
def gate(app, clock, faces_photos):
    app.config["HELP_CONTACT"] = CONTACT
    # These tests are about the identity check; a still photo cannot do a liveness challenge
    # (tests/camera/test_liveness_gate.py turns it on and performs them).
    app.config["LIVENESS"] = False
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    create_window(paper, clock.now() - timedelta(hours=1), hours=48)
    physician = create_physician(cycle, Procedure.SIMPLE, password="Right-Pass1")
    physician.user.must_change_password = False
    photo = jobs.run("registration_photo", {"image": faces_photos["obama"]})
    assert photo["ok"]
    physician.photo_status, physician.face_encoding = PhotoStatus.OK, photo["encoding"]
    db.session.commit()
    return {"cycle": cycle, "paper": paper, "physician": physician}


def log_in(app, physician):
    """A new browser (a device of its own) with the physician logged in."""
    client = app.test_client()
    client.post("/login", data={"login": physician.id_number, "password": "Right-Pass1"})
    return client


@pytest.fixture
def phone(app, gate):
    return log_in(app, gate["physician"])


# Flask-SocketIO keeps handlers for the next app only if they were registered before the
# first one was built; tests build an app per test, so the events are imported here first.


def socket_of(app, client):
    """The exam channel of ``client``'s browser session."""
    g.pop("user", None)  # each socket event has its own context in production
    return socketio.test_client(app, namespace=NAMESPACE, flask_test_client=client)


def emit(socket, event, data):
    g.pop("user", None)
    return socket.emit(event, data, namespace=NAMESPACE, callback=True)


def jpeg_of(array: np.ndarray, quality: int = 80, long_side: int = 640) -> bytes:
    """A frame as the page sends it: at most 640 px on its long side, JPEG."""
    image = Image.fromarray(array)
    image.thumbnail((long_side, long_side))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture
def attempt_id(candidate, exam) -> int:  # noqa: F811
    response = start(candidate, exam["paper"].id)
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


@pytest.fixture
def channel(app, candidate) -> Iterator[Any]:  # noqa: F811
    g.pop("user", None)
    client = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=candidate)
    assert client.is_connected(NAMESPACE)
    yield client
    if client.is_connected(NAMESPACE):
        client.disconnect(NAMESPACE)
    analysis.join()


@pytest.fixture
def changes() -> Iterator[list[int]]:
    """The attempt ids ``attempt_changed`` was sent for."""
    sent: list[int] = []

    def receiver(attempt_id: int, **_: Any) -> None:
        sent.append(attempt_id)

    attempt_changed.connect(receiver)
    yield sent
    attempt_changed.disconnect(receiver)
