"""The write-back against the fake registration system over real HTTP, with a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from examsvc.attempts import operations as ops
from examsvc.attempts.models import Attempt
from examsvc.clock import FrozenClock
from examsvc.enums import SubmitReason
from examsvc.extensions import db
from examsvc.registry import RegistryClient
from examsvc.results import delivery
from examsvc.results.models import ResultDelivery
from examsvc.roster.models import Physician
from tests.attempts.test_attempts import correct_response
from tests.factories_exam import entry, pass_gate
from tests.roster.fake_registry import TOKEN, FakeRegistry


@pytest.fixture
def registry(app: Flask) -> Iterator[FakeRegistry]:
    fake = FakeRegistry().start()
    app.config.update(REGISTRY_BASE_URL=fake.url, REGISTRY_TOKEN=TOKEN)
    yield fake
    fake.release.set()
    fake.stop()


def client_of(registry: FakeRegistry) -> RegistryClient:
    return RegistryClient(registry.url, TOKEN, timeout=5)


def deliver(registry: FakeRegistry, clock: FrozenClock, **kw: Any) -> delivery.DeliveryReport:
    """One run of the delivery, as the job or ``examsvc results deliver`` makes it."""
    return delivery.deliver(client_of(registry), clock.now, lease_seconds=120, **kw)


def sit(physician: Physician, paper_id: int, now: datetime, *, correct: bool) -> Attempt:
    """Start an attempt past the gate and answer every question right or leave it blank
    (committed, still open)."""
    check = pass_gate(physician, f"device-{physician.id}", now)
    attempt = ops.start_attempt(
        physician, paper_id, now=now, rules_acknowledged=True, entry=entry(check), allowance_cap=60
    )
    if correct:
        for seq, item in enumerate(attempt.items, start=1):
            ops.save_answer(
                attempt,
                item.position,
                correct_response(item),
                marked=False,
                seq=seq,
                now=now,
                journaled_at=None,
                grace=timedelta(seconds=30),
            )
    db.session.commit()
    return attempt


def submit(attempt: Attempt, now: datetime) -> None:
    """The candidate hands in: one unit, as the API's."""
    ops.submit_attempt(attempt.id, now=now, reason=SubmitReason.CANDIDATE)
    db.session.commit()


def rows(physician: Physician | None = None) -> list[ResultDelivery]:
    db.session.expire_all()
    query = sa.select(ResultDelivery).order_by(ResultDelivery.id)
    if physician is not None:
        query = query.where(ResultDelivery.physician_id == physician.id)
    return list(db.session.scalars(query))
