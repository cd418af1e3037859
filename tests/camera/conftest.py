"""A physician with a real registration photo (Obama's, encoded by the face engine), a paper
with a window open now, logged in on ``client``, not yet past the gate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import g

from examsvc.attempts.events import NAMESPACE
from examsvc.camera import events  # noqa: F401  (registered before the first app: see below)
from examsvc.enums import PhotoStatus, Procedure
from examsvc.extensions import db, socketio
from proctoring import jobs
from tests.factories import create_cycle, create_physician
from tests.factories_exam import create_bank, create_paper, create_window

CONTACT = "湖南省医师定考中心 0731-84000000"


@pytest.fixture
def gate(app, clock, faces_photos):
    app.config["HELP_CONTACT"] = CONTACT
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
