"""The session cookie: Flask's signed cookie, signed again only when it is a few minutes old.

A session lasts 12 hours from the last request (``PERMANENT_SESSION_LIFETIME``): Flask
signs the cookie again at every request of a permanent session so that its timestamp (which
``open_session`` checks against the lifetime) and its ``Expires`` move with each request.
Signing costs 0.2–0.3 ms of the web process's CPU at every request (docs/benchmarks.md).
Here the cookie is signed again only when the timestamp it carries is ``REFRESH_SECONDS``
old or older (or the session changed): a session then ends between 12 hours minus
``REFRESH_SECONDS`` and 12 hours after its last request — never later than before, at most
``REFRESH_SECONDS`` earlier. Everything else is Flask's (``SecureCookieSessionInterface``):
the key and its fallbacks, the salt, the serializer, the cookie's attributes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

# A session's cookie is signed again at the first request this many seconds after its last
# signing (and whenever the session changes).
REFRESH_SECONDS = 300


class Session(SecureCookieSession):
    #: When the cookie this session came from was signed (seconds since the epoch); None
    #: for a new session.
    signed_at: int | None = None


class _ClockSigner(TimestampSigner):
    """itsdangerous's timestamp signer, reading the time from ``clock`` (tests move it)."""

    def __init__(self, *args: Any, clock: Callable[[], float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock())


class RefreshingSessions(SecureCookieSessionInterface):
    session_class = Session

    def __init__(
        self, refresh_seconds: int = REFRESH_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._serializer: tuple[tuple[Any, ...], URLSafeTimedSerializer] | None = None

    def now(self) -> float:
        """Seconds since the epoch, from ``clock`` (which a test may replace)."""
        return self.clock()

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys: list[str | bytes] = list(app.config["SECRET_KEY_FALLBACKS"] or ())
        keys.append(app.secret_key)  # itsdangerous expects the current key last
        # Built once per key set (Flask builds one twice a request).
        cached = self._serializer
        if cached is not None and cached[0] == tuple(keys):
            return cached[1]
        serializer = URLSafeTimedSerializer(
            keys,  # type: ignore[arg-type]
            salt=self.salt,
            serializer=self.serializer,
            signer=_ClockSigner,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
                "clock": self.now,
            },
        )
        self._serializer = (tuple(keys), serializer)
        return serializer

    def open_session(self, app: Flask, request: Request) -> Session | None:
        s = self.get_signing_serializer(app)
        if s is None:
            return None
        val = request.cookies.get(self.get_cookie_name(app))
        if not val:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed = s.loads(val, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = int(signed.timestamp())
        return session

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        if not session.permanent:
            return None
        return datetime.fromtimestamp(self.now(), UTC) + app.permanent_session_lifetime

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or self.now() - signed_at >= self.refresh_seconds
