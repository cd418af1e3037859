"""Read-side helpers other features use to find a physician's registration."""

from __future__ import annotations

import sqlalchemy as sa

from examsvc.extensions import db
from examsvc.roster.models import Cycle, Physician


def current_cycle() -> Cycle | None:
    """The cycle being examined: the configured one, else the latest to start."""
    from flask import current_app

    code = current_app.config.get("REGISTRY_CYCLE")
    query = sa.select(Cycle)
    query = query.where(Cycle.code == code) if code else query.order_by(Cycle.starts_on.desc())
    return db.session.scalars(query.limit(1)).first()


def current_physician(user_id: int) -> Physician | None:
    """The logged-in physician's registration in the current cycle."""
    cycle = current_cycle()
    if cycle is None:
        return None
    return db.session.scalars(
        sa.select(Physician).where(Physician.user_id == user_id, Physician.cycle_id == cycle.id)
    ).first()
