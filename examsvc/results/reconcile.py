"""The agency's side of the write-back: sending a result again, and comparing what was sent
with what the registration system holds (registry API v1 §2, read back with GET).

Sending again only queues: the result becomes pending with its next try now, and the
delivery worker sends it. Its tries and its ``Idempotency-Key`` are kept — it is the same
result, so a registry that stored it meanwhile does not store it twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from examsvc.errors import Refused
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.registry import RegistryClient, RegistryError, RegistryUnreadable, RetryPolicy
from examsvc.results.models import DeliveryStatus, ResultDelivery

RESENDABLE = (DeliveryStatus.REFUSED, DeliveryStatus.PENDING)


def resend(delivery: ResultDelivery, *, now: datetime) -> None:
    """Queue a refused or pending result to be sent at once (flushes)."""
    if delivery.status not in RESENDABLE:
        raise Refused(
            "not_resendable",
            N_("只有回传被拒或待回传的结果可以重新发送"),
        )
    if delivery.status == DeliveryStatus.REFUSED:
        # Nobody is sending a refused result: a lease left on it must not delay the try.
        delivery.lease_until = delivery.leased_by = None
    delivery.status = DeliveryStatus.PENDING
    delivery.next_try_at = now
    db.session.flush()


def resend_refused(ids: sa.Select[int], *, now: datetime) -> int:
    """Queue every refused result among ``ids`` to be sent at once; how many (flushes).
    Conditional on the state, so a row changed meanwhile is left as it is."""
    result = db.session.execute(
        sa.update(ResultDelivery)
        .where(ResultDelivery.id.in_(ids.scalar_subquery()))
        .where(ResultDelivery.status == DeliveryStatus.REFUSED)
        .values(status=DeliveryStatus.PENDING, next_try_at=now, lease_until=None, leased_by=None)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- comparing with the registration system ---------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A result as we queued it, in plain data (read before the network is waited on)."""

    id: int
    cycle: str
    registration_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Comparison:
    outcome: str  # same · different · missing · unreadable (words.COMPARISON_LABELS)
    differs: tuple[str, ...] = ()  # verdict, round, papers
    note: str = ""  # why it could not be read
    unsupported: bool = False  # the registry does not let results be read back (405/501)


def _papers(body: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    papers = body.get("papers")
    found: dict[str, tuple[Any, ...]] = {}
    for paper in papers if isinstance(papers, list) else []:
        if isinstance(paper, dict):
            score = paper.get("score")
            found[str(paper.get("paper"))] = (
                paper.get("status"),
                None if score is None else round(float(score), 2),
                paper.get("attempts_used"),
            )
    return found


def differences(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields of the result in which the registry's copy differs from ours: the
    verdict, the round, the papers (each paper's status, score and attempts used)."""
    found = [key for key in ("verdict", "round") if ours.get(key) != theirs.get(key)]
    if _papers(ours) != _papers(theirs):
        found.append("papers")
    return tuple(found)


@dataclass
class Comparer:
    """Compares results one by one; once the registry says it cannot be read (405/501) it
    is not asked again."""

    client: RegistryClient
    unreadable: str | None = field(default=None)

    def __call__(self, sent: Sent) -> Comparison:
        if self.unreadable is not None:
            return Comparison("unreadable", note=self.unreadable, unsupported=True)
        try:
            theirs = self.client.exam_result(sent.cycle, sent.registration_id)
        except RegistryUnreadable as exc:
            self.unreadable = str(exc)
            return Comparison("unreadable", note=self.unreadable, unsupported=True)
        except RegistryError as exc:
            return Comparison("unreadable", note=str(exc))
        if theirs is None:
            return Comparison("missing")
        found = differences(sent.payload, theirs)
        return Comparison("different", found) if found else Comparison("same")


def compare(client: RegistryClient, sent: list[Sent]) -> dict[int, Comparison]:
    """Each result's comparison with the registry's copy, by the result's id. Waits on the
    network: the caller has no transaction open."""
    comparer = Comparer(client)
    return {s.id: comparer(s) for s in sent}


def sent_of(deliveries: list[ResultDelivery]) -> list[Sent]:
    """The results to compare: every one but those a newer result replaced."""
    return [
        Sent(d.id, d.cycle.code, d.physician.registration_id, dict(d.payload))
        for d in deliveries
        if d.status != DeliveryStatus.SUPERSEDED
    ]


def client_of(config: Mapping[str, Any]) -> RegistryClient | None:
    """A client for comparisons (two tries, no long backoff: a person is waiting), or None
    when no registry is configured."""
    if not (config.get("REGISTRY_BASE_URL") and config.get("REGISTRY_TOKEN")):
        return None
    return RegistryClient(
        config["REGISTRY_BASE_URL"],
        config["REGISTRY_TOKEN"],
        timeout=min(10, config.get("REGISTRY_TIMEOUT") or 10),
        policy=RetryPolicy(attempts=2, base_delay=0.5, max_delay=2),
    )
