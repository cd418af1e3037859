"""The write-back outbox: each decided result, queued in the transaction that decided it.

A row is one result of one physician as the registration system will receive it
(registry API v1 §2): the JSON body, the ``Idempotency-Key`` it is sent with, and its
delivery — pending (with the next try), delivered, refused by the registry (409 or
another 4xx, with the response shown to the agency), or superseded by a newer result of
the same physician before it was sent. A worker leases one row at a time
(``lease_until``), so several workers never send the same result at once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examsvc.db import UTCDateTime, enum_column
from examsvc.enums import WindowRound
from examsvc.extensions import Model
from examsvc.roster.models import Cycle, Physician


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not yet stored by the registry: next_try_at says when
    DELIVERED = "delivered"  # the registry answered 200/201
    REFUSED = "refused"  # 409 or another 4xx: never retried by itself, shown to the agency
    SUPERSEDED = "superseded"  # a newer result of the physician replaced it before it was sent


class ResultVerdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class ResultDelivery(Model):
    __tablename__ = "result_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycles.id"), index=True)
    physician_id: Mapped[int] = mapped_column(sa.ForeignKey("physicians.id"), index=True)
    round: Mapped[WindowRound] = mapped_column(enum_column(WindowRound, "result_round"))
    verdict: Mapped[ResultVerdict] = mapped_column(enum_column(ResultVerdict, "result_verdict"))
    # The request body of registry API v1 §2, exactly as sent (decided_at included).
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # sha256 of the body without decided_at: the same result is queued only once.
    digest: Mapped[str] = mapped_column(sa.String(64))
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus, "delivery_status"), index=True
    )
    tries: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    leased_by: Mapped[str | None] = mapped_column(sa.String(100))
    last_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_http_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)  # the registry's answer, cut short
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    physician: Mapped[Physician] = relationship()
    cycle: Mapped[Cycle] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("physician_id", "digest"),
        sa.CheckConstraint("tries >= 0", name="tries_positive"),
        sa.CheckConstraint(
            "(status = 'pending') = (next_try_at IS NOT NULL)", name="pending_has_next_try"
        ),
        sa.CheckConstraint(
            "(status = 'delivered') = (delivered_at IS NOT NULL)", name="delivered_has_time"
        ),
        sa.Index("ix_result_deliveries_due", "status", "next_try_at"),
    )
