"""Delivering the outbox to the registration system: each result stored there once in effect.

One row at a time: a unit claims a due row with a lease (a conditional UPDATE, committed at
once), the request is sent with no transaction open, and a second unit records the answer
only if the lease is still this worker's. The registry dedupes by ``Idempotency-Key``, so a
worker killed after sending loses nothing: its lease runs out and the row is sent again
with the same key.

- 200/201 (any 2xx): delivered.
- 409 (record closed) and any other 4xx: refused, with the registry's answer kept for the
  agency; never retried by itself.
- 429, 5xx, a timeout, a broken connection: pending again, after an exponential backoff with
  full jitter (``retry_delay``), never sooner than the registry's ``Retry-After``.

Several workers (the web processes' job, ``examsvc results deliver`` processes) may run at
once: a row is leased by one of them, and a physician's next result waits while an older
one is in flight, so that the registry never receives them out of order.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from examsvc import metrics
from examsvc.extensions import db
from examsvc.registry import RegistryClient, RegistryError, retry_after_seconds
from examsvc.results.models import DeliveryStatus, ResultDelivery
from examsvc.roster.models import Cycle, Physician
from examsvc.uow import unit_of_work

log = logging.getLogger("examsvc.results")

RETRY_BASE_SECONDS = 30.0  # the first retry waits up to this long
RETRY_MAX_SECONDS = 3600.0  # no backoff beyond an hour...
RETRY_AFTER_MAX_SECONDS = 86400.0  # ...unless the registry asks for longer (up to a day)
BODY_LIMIT = 2000  # characters of the registry's answer kept for the agency


def retry_delay(
    tries: int, retry_after: float | None, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before the next try after ``tries`` failed ones: full jitter over
    30 s × 2^(tries−1), capped at an hour, and never less than ``Retry-After``."""
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** min(max(tries - 1, 0), 20))
    delay = rand() * ceiling
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX_SECONDS))
    return delay


def worker_name() -> str:
    """Who holds a lease: host and process, for the agency's page and the logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Claimed:
    """A leased row, as plain data: nothing of it is read while the request is out."""

    id: int
    token: str  # this claim's ``leased_by``: the lease is ours while it is still there
    cycle: str
    registration_id: str
    payload: dict[str, Any]
    idempotency_key: str
    tries: int


def _due(row: Any, now: datetime) -> Any:
    """Pending, its time come, not leased, and no other result of the physician in flight."""
    other = aliased(ResultDelivery)
    in_flight = sa.exists().where(
        other.physician_id == row.physician_id, other.id != row.id, other.lease_until > now
    )
    return sa.and_(
        row.status == DeliveryStatus.PENDING,
        row.next_try_at <= now,
        sa.or_(row.lease_until.is_(None), row.lease_until <= now),
        ~in_flight,
    )


def claim(now: datetime, lease: timedelta, worker: str) -> Claimed | None:
    """Lease the row due first (flush only: the caller's unit commits the lease at once).

    One UPDATE picks and leases the row, so that the transaction writes before it reads
    (SQLite: no stale snapshot to upgrade) and two workers cannot both win it (PostgreSQL
    re-checks the condition on the row the other worker just leased)."""
    token = f"{worker}:{uuid.uuid4().hex[:12]}"
    row, candidate = ResultDelivery, aliased(ResultDelivery)
    first_due = (
        sa.select(candidate.id)
        .where(_due(candidate, now))
        .order_by(candidate.next_try_at, candidate.id)
        .limit(1)
    ).scalar_subquery()
    for _ in range(5):  # lost to another worker: the next row due
        done = db.session.execute(
            sa.update(row)
            .where(row.id == first_due, _due(row, now))
            .values(lease_until=now + lease, leased_by=token, tries=row.tries + 1, last_try_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(done, "rowcount", 0):
            break
        if db.session.scalar(sa.select(sa.exists().where(_due(row, now)))) is False:
            return None
    else:
        return None
    found = db.session.execute(
        sa.select(row.id, row.payload, row.idempotency_key, row.tries, Cycle.code)
        .add_columns(Physician.registration_id)
        .join(Cycle, Cycle.id == row.cycle_id)
        .join(Physician, Physician.id == row.physician_id)
        .where(row.leased_by == token)
    ).one()
    return Claimed(
        found.id,
        token,
        found.code,
        found.registration_id,
        found.payload,
        found.idempotency_key,
        found.tries,
    )


def _record(claimed: Claimed, **values: Any) -> bool:
    """Record an answer and release the lease, only if the lease is still this claim's."""
    done = db.session.execute(
        sa.update(ResultDelivery)
        .where(ResultDelivery.id == claimed.id, ResultDelivery.leased_by == claimed.token)
        .values(lease_until=None, leased_by=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))


def _if_pending(column: Any, value: Any, otherwise: Any) -> Any:
    """``value`` for a row still pending; a row superseded while in flight keeps ``otherwise``."""
    return sa.case(
        (ResultDelivery.status == DeliveryStatus.PENDING, sa.literal(value, column.type)),
        else_=otherwise,
    )


def record_delivered(claimed: Claimed, status: int, now: datetime) -> bool:
    """Stored by the registry (also a row superseded while it was in flight: it did arrive)."""
    return _record(
        claimed,
        status=DeliveryStatus.DELIVERED,
        delivered_at=now,
        next_try_at=None,
        last_http_status=status,
        last_error=None,
    )


def record_refused(claimed: Claimed, status: int, body: str) -> bool:
    """Refused (409: the record is closed; another 4xx): kept with the registry's answer
    for the agency, never tried again by itself."""
    row = ResultDelivery
    return _record(
        claimed,
        status=_if_pending(row.status, DeliveryStatus.REFUSED, row.status),
        next_try_at=None,
        last_http_status=status,
        last_error=body[:BODY_LIMIT],
    )


def record_retry(
    claimed: Claimed, status: int | None, error: str, retry_after: float | None, now: datetime
) -> bool:
    """Not stored yet (429, 5xx, no answer): pending again after the backoff."""
    next_try = now + timedelta(seconds=retry_delay(claimed.tries, retry_after))
    return _record(
        claimed,
        next_try_at=_if_pending(ResultDelivery.next_try_at, next_try, None),
        last_http_status=status,
        last_error=error[:BODY_LIMIT],
    )


@dataclass
class DeliveryReport:
    delivered: int = 0
    refused: int = 0
    retrying: int = 0
    lease_lost: int = 0  # answered after another worker took the row over: recorded there

    def summary(self) -> str:
        return (
            f"delivered {self.delivered}, refused {self.refused}, to retry {self.retrying},"
            f" lease lost {self.lease_lost}"
        )


def send(client: RegistryClient, claimed: Claimed, now: Callable[[], datetime]) -> str:
    """Send one claimed row (no transaction open) and record the answer in a unit; the
    outcome: delivered | refused | retrying | lease_lost."""
    try:
        reply = client.put_result(
            claimed.cycle, claimed.registration_id, claimed.payload, claimed.idempotency_key
        )
    except RegistryError as exc:
        status, error, retry_after = None, str(exc), None
    else:
        status, error = reply.status, reply.body
        retry_after = retry_after_seconds(reply.headers.get("Retry-After"), now())
    with unit_of_work():
        if status is not None and 200 <= status < 300:
            outcome, kept = "delivered", record_delivered(claimed, status, now())
        elif status is not None and 400 <= status < 500 and status != 429:
            outcome, kept = "refused", record_refused(claimed, status, error)
        else:
            outcome = "retrying"
            kept = record_retry(claimed, status, error or f"HTTP {status}", retry_after, now())
    # Row ids and HTTP statuses only: no names or ID numbers in the logs.
    log.info("result %s: %s (HTTP %s, try %d)", claimed.id, outcome, status, claimed.tries)
    metrics.writeback_outcome(outcome, status)
    return outcome if kept else "lease_lost"


def deliver(
    client: RegistryClient,
    now: Callable[[], datetime],
    *,
    lease_seconds: int,
    limit: int | None = None,
    worker: str | None = None,
) -> DeliveryReport:
    """Send the due rows one by one until none is due (or ``limit`` were tried)."""
    report = DeliveryReport()
    worker = worker or worker_name()
    tried = 0
    while limit is None or tried < limit:
        with unit_of_work():
            claimed = claim(now(), timedelta(seconds=lease_seconds), worker)
        if claimed is None:
            break
        tried += 1
        outcome = send(client, claimed, now)
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def registry_client(config: Any) -> RegistryClient | None:
    """The client of the roster's registry settings; None when no registry is configured."""
    if not (config["REGISTRY_BASE_URL"] and config["REGISTRY_TOKEN"]):
        return None
    return RegistryClient(
        config["REGISTRY_BASE_URL"], config["REGISTRY_TOKEN"], timeout=config["REGISTRY_TIMEOUT"]
    )
