"""Rows of the write-back outbox made directly (the queueing code is tested on its own)."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import datetime, timedelta
from typing import Any

from examsvc.enums import WindowRound
from examsvc.extensions import db
from examsvc.results.models import DeliveryStatus, ResultDelivery, ResultVerdict
from examsvc.roster.models import Physician
from tests.conftest import T0

_seq = itertools.count(1)


def paper(kind: str = "humanities", status: str = "passed", score: float | None = 86.0, **kw: Any):
    return {
        "paper": kind,
        "status": status,
        "score": score,
        "pass_mark": 60.0,
        "attempts_used": kw.pop("attempts_used", 1),
        "finished_at": kw.pop("finished_at", "2026-05-12T10:41:09+08:00"),
        **kw,
    }


def create_result(
    physician: Physician,
    status: DeliveryStatus = DeliveryStatus.DELIVERED,
    verdict: ResultVerdict = ResultVerdict.PASS,
    round: WindowRound = WindowRound.REGULAR,
    papers: list[dict[str, Any]] | None = None,
    decided_at: datetime = T0,
    **kw: Any,
) -> ResultDelivery:
    """A queued result as the write-back stores it; ``status`` sets the columns it requires."""
    body = {
        "verdict": verdict.value,
        "decided_at": decided_at.isoformat(),
        "round": round.value,
        "papers": papers if papers is not None else [paper()],
        "reasons": [] if verdict == ResultVerdict.PASS else ["professional paper failed"],
    }
    n = next(_seq)
    digest = hashlib.sha256(
        json.dumps({k: v for k, v in body.items() if k != "decided_at"} | {"n": n}).encode()
    ).hexdigest()
    row = ResultDelivery(
        cycle_id=physician.cycle_id,
        physician_id=physician.id,
        round=round,
        verdict=verdict,
        payload=body,
        digest=digest,
        idempotency_key=kw.pop("idempotency_key", f"key-{n:06d}"),
        decided_at=decided_at,
        queued_at=decided_at,
        status=status,
        tries=kw.pop("tries", 0 if status == DeliveryStatus.PENDING else 1),
        next_try_at=kw.pop(
            "next_try_at",
            decided_at + timedelta(minutes=5) if status == DeliveryStatus.PENDING else None,
        ),
        delivered_at=decided_at if status == DeliveryStatus.DELIVERED else None,
        **kw,
    )
    db.session.add(row)
    db.session.flush()
    return row
