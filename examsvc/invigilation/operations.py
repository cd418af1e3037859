"""Creating sites and sessions, assigning invigilators and candidates; an invigilator's actions
on an attempt (warn, review a flag, void). Operations flush; the request or socket event
commits (``examsvc.uow``), and live notices go out after that commit (``live``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from examsvc.accounts.ids import InvalidIdNumber, id_key
from examsvc.accounts.models import User
from examsvc.attempts.models import Attempt
from examsvc.attempts.operations import void_attempt
from examsvc.audit.operations import record
from examsvc.camera.models import EntryCheck, Snapshot
from examsvc.enums import AttemptStatus, RegistrationStatus, Role
from examsvc.errors import Conflict, Invalid, Refused
from examsvc.extensions import db
from examsvc.invigilation import live
from examsvc.invigilation.models import (
    ExamSession,
    ProctorWarning,
    Site,
    session_candidates,
    session_invigilators,
)
from examsvc.marks import N_
from examsvc.papers.models import ExamWindow, Paper
from examsvc.papers.queries import papers_for
from examsvc.roster.models import Physician
from examsvc.signals import attempt_changed


def create_site(code: str, name: str, address: str | None) -> Site:
    if db.session.scalars(sa.select(Site).where(Site.code == code)).first():
        raise Conflict("site_code_taken", N_("考点编号 {code} 已存在", code=code))
    site = Site(code=code, name=name, address=address or None)
    db.session.add(site)
    db.session.flush()
    return site


def create_session(window: ExamWindow, name: str, site: Site | None) -> ExamSession:
    session = ExamSession(
        window_id=window.id, site_id=site.id if site else None, name=name, settings={}
    )
    db.session.add(session)
    db.session.flush()
    return session


def assign_invigilators(session: ExamSession, user_ids: list[int]) -> None:
    """Replace the session's invigilators; only invigilator accounts may be assigned."""
    users = db.session.scalars(sa.select(User).where(User.id.in_(user_ids))).all()
    wrong = [u.display_name for u in users if u.role != Role.INVIGILATOR or not u.active]
    if wrong or len(users) != len(set(user_ids)):
        raise Invalid("not_invigilators", "只能指派有效的监考人员账号：" + "、".join(wrong))
    db.session.execute(
        session_invigilators.delete().where(session_invigilators.c.session_id == session.id)
    )
    if users:
        db.session.execute(
            session_invigilators.insert(),
            [{"session_id": session.id, "user_id": u.id} for u in users],
        )
    live.reseat(session.id)


@dataclass(frozen=True)
class LineProblem:
    line: int  # 1-based, as the person counts the lines of the box
    text: str
    reason: str


class CandidatesRefused(Invalid):
    """Candidate lines that name nobody who can sit this session; nothing was added."""

    def __init__(self, problems: list[LineProblem]) -> None:
        super().__init__(
            "candidates_refused",
            "; ".join(f"{p.line}: {p.reason}" for p in problems),
            [{"field": str(p.line), "message": p.reason} for p in problems],
        )
        self.problems = problems


def _find_candidate(cycle_id: int, text: str) -> Physician | str:
    """The physician a line names (registration id, or an ID number in any form the login
    accepts), or why it names nobody."""
    physician = db.session.scalars(
        sa.select(Physician).where(
            Physician.cycle_id == cycle_id, Physician.registration_id == text
        )
    ).first()
    if physician is None:
        try:
            key = id_key(text)
        except InvalidIdNumber as exc:
            return exc.message
        physician = db.session.scalars(
            sa.select(Physician).where(Physician.cycle_id == cycle_id, Physician.id_key == key)
        ).first()
    if physician is None:
        return N_("本周期名单中没有此报名编号或证件号码")
    return physician


def assign_candidates(session: ExamSession, lines: list[str]) -> int:
    """Add the candidates named one per line (registration id or ID number); all of them, or
    none with each bad line named. Returns how many were new to the session."""
    paper = db.session.get(Paper, session.window.paper_id)
    assert paper is not None
    problems: list[LineProblem] = []
    found: dict[int, Physician] = {}
    for number, line in enumerate(lines, start=1):
        for text in line.replace("，", ",").replace(",", " ").split():
            match = _find_candidate(paper.cycle_id, text)
            if isinstance(match, str):
                problems.append(LineProblem(number, text, match))
            elif match.status != RegistrationStatus.APPROVED:
                problems.append(
                    LineProblem(number, text, N_("{name}已退出本周期考核", name=match.name))
                )
            elif paper not in papers_for(match):
                problems.append(
                    LineProblem(
                        number,
                        text,
                        N_("{name}本周期不参加「{paper}」", name=match.name, paper=paper.name),
                    )
                )
            else:
                found[match.id] = match
    if problems:
        raise CandidatesRefused(problems)
    present = set(
        db.session.scalars(
            sa.select(session_candidates.c.physician_id).where(
                session_candidates.c.session_id == session.id
            )
        )
    )
    rows = [
        {"session_id": session.id, "physician_id": pid}
        for pid in sorted(found)
        if pid not in present
    ]
    if rows:
        db.session.execute(session_candidates.insert(), rows)
    return len(rows)


# --- an invigilator's actions on an attempt (the caller checked they watch it) ----------


def _reason(text: str, code: str, message: str) -> str:
    text = " ".join(text.split())
    if len(text) < 2:
        raise Invalid(code, message, [{"field": "-", "message": message}])
    return text[:300]


def send_warning(attempt: Attempt, user: User, message: str, now: datetime) -> ProctorWarning:
    """A warning shown to the candidate at once (``warning`` on their exam pages)."""
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Refused("attempt_closed", N_("该考生的测评已结束"))
    text = _reason(message, "message_required", N_("请填写提醒内容"))
    warning = ProctorWarning(attempt_id=attempt.id, sent_by=user.id, sent_at=now, message=text)
    db.session.add(warning)
    db.session.flush()
    record("proctor.warn", "attempt", attempt.id, actor_id=user.id, now=now, message=text)
    live.tell_candidate(
        attempt.physician.user_id,
        "warning",
        {"id": warning.id, "message": text, "sent_at": now.isoformat()},
    )
    attempt_changed.send(attempt.id)
    return warning


def void_for_violation(attempt: Attempt, user: User, reason: str, now: datetime) -> Attempt:
    """End the attempt for a violation (违纪作废): the reason is required; the candidate is
    told at once; the paper counts the attempt as used and not passed."""
    text = _reason(reason, "reason_required", N_("请填写作废原因"))
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Refused("attempt_closed", N_("该考生的测评已结束"))
    attempt = void_attempt(attempt.id, now=now, reason=text)
    record(
        "attempt.void",
        "attempt",
        attempt.id,
        actor_id=user.id,
        now=now,
        reason=text,
        paper=attempt.paper.code,
    )
    live.tell_candidate(
        attempt.physician.user_id, "voided", {"attempt_id": attempt.id, "reason": text}
    )
    attempt_changed.send(attempt.id)
    return attempt


def review_snapshot(snapshot: Snapshot, user: User, note: str, now: datetime) -> None:
    """Mark a flagged snapshot as seen by a person, with what they concluded."""
    snapshot.reviewed_by = user.id
    snapshot.reviewed_at = now
    snapshot.review_note = " ".join(note.split())[:300] or None
    db.session.flush()
    record(
        "proctor.review",
        "attempt",
        snapshot.attempt_id,
        actor_id=user.id,
        now=now,
        snapshot=snapshot.id,
        status=snapshot.status.value,
    )
    attempt_changed.send(snapshot.attempt_id)


VERDICTS = ("same", "different")


def review_entry(check: EntryCheck, user: User, verdict: str, note: str, now: datetime) -> None:
    """An invigilator's decision on an entry verification left for review: the same person
    as the registration photo, or not."""
    if verdict not in VERDICTS:
        raise Invalid(
            "invalid", N_("请选择复核结论"), [{"field": "verdict", "message": N_("请选择复核结论")}]
        )
    check.reviewed_by = user.id
    check.reviewed_at = now
    check.review_verdict = verdict
    check.review_note = " ".join(note.split())[:300] or None
    db.session.flush()
    record(
        "proctor.entry_review",
        "physician",
        check.physician_id,
        actor_id=user.id,
        now=now,
        check=check.id,
        verdict=verdict,
    )
    for attempt_id in _attempts_of_check(check):
        attempt_changed.send(attempt_id)


def _attempts_of_check(check: EntryCheck) -> list[int]:
    if check.attempt_id is not None:
        return [check.attempt_id]
    return list(
        db.session.scalars(
            sa.select(Attempt.id).where(
                Attempt.physician_id == check.physician_id,
                Attempt.paper_id == check.paper_id,
                Attempt.status == AttemptStatus.IN_PROGRESS,
            )
        )
    )


def record_view(attempt: Attempt, user: User, now: datetime) -> None:
    """Who looked at which candidate's snapshots and entry frames (the timeline)."""
    record(
        "proctor.view",
        "attempt",
        attempt.id,
        actor_id=user.id,
        now=now,
        physician=attempt.physician.registration_id,
    )


def mark_warning_seen(warning_id: int, user_id: int, *, now: datetime) -> ProctorWarning:
    """The candidate saw the warning (the first time counts)."""
    warning = db.session.scalar(
        sa.select(ProctorWarning)
        .join(Attempt, Attempt.id == ProctorWarning.attempt_id)
        .join(Physician, Physician.id == Attempt.physician_id)
        .where(ProctorWarning.id == warning_id, Physician.user_id == user_id)
    )
    if warning is None:
        raise Refused("not_found", N_("没有这条提醒"), status=404)
    if warning.seen_at is None:
        warning.seen_at = now
        db.session.flush()
        attempt_changed.send(warning.attempt_id)
    return warning
