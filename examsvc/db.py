"""Column types and helpers shared by the models."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every database (SQLite keeps no time zone)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum: VARCHAR plus a CHECK constraint holding the values."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


@sa.event.listens_for(sa.Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite: enforce foreign keys, and let readers run beside one writer (WAL)."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


SQLITE_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")  # OFF is not offered: a crash may corrupt


def sqlite_synchronous(engine: sa.Engine, level: str) -> None:
    """SQLite's ``PRAGMA synchronous`` on every connection of ``engine`` (the setting
    EXAMSVC_SQLITE_SYNCHRONOUS; other databases: nothing). In WAL mode NORMAL writes each
    commit to the WAL without an fsync: the commit survives a killed process (the OS has
    the pages) but the last commits may be lost to a power loss or an OS crash; FULL
    fsyncs the WAL at every commit, which blocks the gevent loop for the disk's flush."""
    if engine.dialect.name != "sqlite" or level not in SQLITE_SYNCHRONOUS:
        return

    @sa.event.listens_for(engine, "connect")
    def _synchronous(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.close()
