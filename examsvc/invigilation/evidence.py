"""Signed, short-lived names of the camera's images for the invigilators' pages.

A page never carries an image's path or id alone: it carries a token (itsdangerous, signed
with the app's secret key, valid ``EVIDENCE_URL_SECONDS``) naming what to show — a snapshot,
an entry check's frame, a physician's registration photo. The route that serves it checks
the token *and* the logged-in viewer's right to see that candidate on every request, so a
token copied to another account, or kept after its session was unassigned, shows nothing.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "examsvc.invigilation.evidence"
KINDS = ("snapshot", "frame", "photo")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def token(kind: str, object_id: int, index: int = 0) -> str:
    """A token for one image: ``snapshot`` id, ``frame`` (entry check id, frame index),
    ``photo`` (physician id)."""
    assert kind in KINDS
    return _serializer().dumps([kind, object_id, index])


def tokens(kind: str, object_ids: list[int]) -> list[str]:
    """:func:`token` of each of these (index 0), with one serializer (a live push signs a
    thumb per card: a thousand at a time)."""
    assert kind in KINDS
    serializer = _serializer()
    return [serializer.dumps([kind, object_id, 0]) for object_id in object_ids]


def read(value: str) -> tuple[str, int, int] | None:
    """What a token names, or None when it is forged, malformed or expired."""
    try:
        data: Any = _serializer().loads(value, max_age=current_app.config["EVIDENCE_URL_SECONDS"])
    except BadSignature:  # SignatureExpired is a BadSignature
        return None
    if (
        not isinstance(data, list)
        or len(data) != 3
        or data[0] not in KINDS
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in data[1:])
    ):
        return None
    return data[0], data[1], data[2]
