"""Creating sites and sessions, assigning invigilators and candidates (operations flush; the
request commits, see ``examsvc.uow``)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from examsvc.accounts.ids import InvalidIdNumber, id_key
from examsvc.accounts.models import User
from examsvc.enums import RegistrationStatus, Role
from examsvc.errors import Conflict, Invalid
from examsvc.extensions import db
from examsvc.invigilation.models import ExamSession, Site, session_candidates, session_invigilators
from examsvc.marks import N_
from examsvc.papers.models import ExamWindow, Paper
from examsvc.papers.queries import papers_for
from examsvc.roster.models import Physician


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
