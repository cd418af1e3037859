"""The admission queue's one table: a ticket per request to be verified."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from examsvc.db import UTCDateTime
from examsvc.extensions import Model


class AdmissionTicket(Model):
    """A candidate's place in the queue (FIFO by ``id``). Waiting while ``admitted_at`` is
    empty and the page keeps asking (``seen_at``); in progress from ``admitted_at`` until
    ``finished_at`` or the timeout; finished tickets measure the service rate."""

    __tablename__ = "admission_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    physician_id: Mapped[int] = mapped_column(sa.ForeignKey("physicians.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # The poll's one count: the open tickets (finished_at IS NULL) by state and order;
        # the rate's count: tickets finished since a time.
        sa.Index("ix_admission_tickets_open", "finished_at", "admitted_at", "id"),
        sa.CheckConstraint(
            "finished_at IS NULL OR admitted_at IS NOT NULL",
            name="finished_after_admission",
        ),
    )
