"""Recording audit events (flushes; the caller owns the transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from examsvc.audit.models import AuditEvent
from examsvc.extensions import db


def record(
    action: str,
    obj_type: str,
    obj_id: object | None,
    *,
    actor_id: int | None,
    now: datetime,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event; never put passwords, ID numbers or photos in ``detail``."""
    event = AuditEvent(
        at=now,
        actor_id=actor_id,
        action=action,
        object_type=obj_type,
        object_id=None if obj_id is None else str(obj_id),
        detail=detail,
    )
    db.session.add(event)
    return event
