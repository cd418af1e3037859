"""The SQL statements a block runs, for tests that hold a read to a fixed number of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from examsvc.extensions import db


@contextmanager
def recorded_statements() -> Iterator[list[str]]:
    """The statements sent to the database inside the block, in order."""
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
