"""The application's clock and zone. Operations take ``now`` as an argument; views read it
here. Times are stored in UTC and shown in Beijing time (``BEIJING``, ``beijing_time``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

from flask import current_app

# The one zone of the service: the manuals write every time in Beijing time.
BEIJING = timezone(timedelta(hours=8))


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests travel in time with it)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at

    def advance(self, **delta: float) -> datetime:
        self._at += timedelta(**delta)
        return self._at


def now() -> datetime:
    """The current time from the app's clock (aware, UTC)."""
    clock: Clock = current_app.extensions["examsvc.clock"]
    return clock.now()


def beijing_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC and shown in Beijing time, as the manuals write them."""
    return "" if value is None else value.astimezone(BEIJING).strftime(fmt)
