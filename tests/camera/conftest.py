from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from flask import g
from PIL import Image

# Imported before any app is built, so that their handlers are registered on every app's
# server (Flask-SocketIO registers a handler imported later on the then-current server only).
from examsvc.attempts import events as _attempt_events  # noqa: F401
from examsvc.camera import analysis
from examsvc.camera.events import NAMESPACE
from examsvc.extensions import socketio
from examsvc.invigilation import seen as _warning_events  # noqa: F401
from examsvc.signals import attempt_changed
from tests.attempts.conftest import candidate, exam  # noqa: F401  (fixtures)
from tests.attempts.test_attempts import start


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
