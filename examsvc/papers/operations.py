"""Papers: drawing an attempt's questions from the blueprint, shortfalls, windows."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from examsvc.banks.models import Question, QuestionBank
from examsvc.banks.operations import counts, current_version
from examsvc.enums import AttemptStatus, WindowRound
from examsvc.extensions import db
from examsvc.papers.models import (
    ExamSession,
    ExamWindow,
    Paper,
    PaperSection,
    Site,
    session_candidates,
    session_invigilators,
)
from examsvc.papers.schemas import PaperSpec
from question_banks.types import QUESTION_TYPES

_BJ = timezone(timedelta(hours=8))
TYPE_ZH = {code: kind.label_zh for code, kind in QUESTION_TYPES.items()}


@dataclass(frozen=True)
class DrawnItem:
    question_id: int
    section_position: int
    points_per_item: float
    option_order: dict[str, list[str]] | None


@dataclass(frozen=True)
class Shortfall:
    section_position: int
    available: int
    needed: int
    message: str


def _candidates(section: PaperSection) -> list[Question]:
    version = current_version(section.bank_id)
    if version is None:
        return []
    query = sa.select(Question).where(
        Question.version_id == version.id, Question.qtype == section.qtype
    )
    if section.tags:
        query = query.where(Question.tag.in_(section.tags))
    return list(db.session.scalars(query.order_by(Question.external_id)))


def blueprint_shortfalls(paper: Paper) -> list[Shortfall]:
    """Sections the banks' current versions cannot fill, each named in plain words."""
    shortfalls = []
    for section in paper.sections:
        bank = db.session.get(QuestionBank, section.bank_id)
        version = current_version(section.bank_id)
        have = 0
        if version is not None:
            by_key = counts(version.id)
            have = sum(
                n
                for (qtype, tag), n in by_key.items()
                if qtype == section.qtype and (not section.tags or tag in section.tags)
            )
        if have < section.count:
            tags = "、".join(section.tags) if section.tags else "全部知识点"
            shortfalls.append(
                Shortfall(
                    section.position,
                    have,
                    section.count,
                    f"第 {section.position} 节「{section.title}」：题库「{bank.name if bank else section.bank_id}」"
                    f"知识点「{tags}」的{TYPE_ZH.get(section.qtype, section.qtype)}只有 {have} 道，本节需要 {section.count} 道",
                )
            )
    return shortfalls


def draw_questions(paper: Paper, seed: int) -> list[DrawnItem]:
    """The attempt's questions: reproducible from the seed, sections in order."""
    drawn: list[DrawnItem] = []
    for section in paper.sections:
        rng = random.Random(f"{seed}:{section.position}")
        candidates = _candidates(section)
        if len(candidates) < section.count:
            raise ValueError(f"section {section.position} cannot be filled")
        chosen = rng.sample(candidates, section.count)
        if not paper.shuffle_questions:
            chosen.sort(key=lambda q: q.external_id)
        for question in chosen:
            order = None
            if paper.shuffle_options:
                order = QUESTION_TYPES[question.qtype].shuffled_order(question.data, rng)
            drawn.append(DrawnItem(question.id, section.position, section.points_per_item, order))
    return drawn


def total_points(items: list[DrawnItem]) -> float:
    scoring = {
        q.id: q.scoring_items
        for q in db.session.scalars(
            sa.select(Question).where(Question.id.in_([i.question_id for i in items]))
        )
    }
    return sum(i.points_per_item * scoring[i.question_id] for i in items)


class WindowChangeRefused(ValueError):
    """A change that would cut running attempts short, refused with the reason."""


def running_attempts(window: ExamWindow) -> tuple[int, datetime | None]:
    from examsvc.attempts.models import Attempt

    count, latest = db.session.execute(
        sa.select(sa.func.count(), sa.func.max(Attempt.deadline_at)).where(
            Attempt.window_id == window.id, Attempt.status == AttemptStatus.IN_PROGRESS
        )
    ).one()
    return int(count or 0), latest


def change_window(
    window: ExamWindow,
    *,
    opens_at: datetime,
    closes_at: datetime,
    let_running_finish: bool,
    now: datetime,
) -> None:
    """Move a window; never silently cut a running attempt short.

    Closing earlier than the latest running attempt's deadline is refused, unless the
    agency says explicitly that running attempts finish (their deadlines stay as they are).
    """
    if closes_at <= opens_at:
        raise WindowChangeRefused("结束时间须晚于开始时间")
    count, latest = running_attempts(window)
    if count and latest is not None and closes_at < latest and not let_running_finish:
        raise WindowChangeRefused(
            f"该时段有 {count} 场测评正在进行，最晚至 {latest.astimezone(_BJ):%Y-%m-%d %H:%M} 结束；"
            "提前结束会中断考试。如确认让进行中的测评继续到原定时间，请勾选“允许进行中的测评按原时间完成”。"
        )
    if count and opens_at > now and window.opens_at <= now:
        raise WindowChangeRefused("已有测评进行中，不能推迟开始时间")
    window.opens_at, window.closes_at = opens_at, closes_at
    db.session.flush()


def add_window(
    paper: Paper, *, round: WindowRound, opens_at: datetime, closes_at: datetime
) -> ExamWindow:
    if closes_at <= opens_at:
        raise WindowChangeRefused("结束时间须晚于开始时间")
    window = ExamWindow(paper_id=paper.id, round=round, opens_at=opens_at, closes_at=closes_at)
    db.session.add(window)
    db.session.flush()
    return window


class PaperRefused(ValueError):
    """A paper definition that cannot be saved; ``problems`` says why, in plain words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def save_paper(cycle_id: int, spec: PaperSpec, *, now: datetime) -> Paper:
    """Create or update a paper; refused when a bank cannot fill it or attempts pin it."""
    from examsvc.attempts.models import Attempt

    problems: list[str] = []
    banks = {
        b.code: b
        for b in db.session.scalars(
            sa.select(QuestionBank).where(QuestionBank.code.in_([s.bank for s in spec.sections]))
        )
    }
    for i, section in enumerate(spec.sections, start=1):
        if section.bank not in banks:
            problems.append(f"第 {i} 节：没有编号为「{section.bank}」的题库")
    prerequisite = None
    if spec.prerequisite:
        prerequisite = db.session.scalars(
            sa.select(Paper).where(Paper.cycle_id == cycle_id, Paper.code == spec.prerequisite)
        ).first()
        if prerequisite is None:
            problems.append(f"前置试卷「{spec.prerequisite}」不存在")
        elif prerequisite.code == spec.code:
            problems.append("试卷不能以自己为前置试卷")
    if problems:
        raise PaperRefused(problems)
    paper = db.session.scalars(
        sa.select(Paper).where(Paper.cycle_id == cycle_id, Paper.code == spec.code)
    ).first()
    new_sections = [
        PaperSection(
            position=i,
            title=s.title,
            bank_id=banks[s.bank].id,
            qtype=s.qtype,
            tags=s.tags,
            count=s.count,
            points_per_item=s.points_per_item,
        )
        for i, s in enumerate(spec.sections, start=1)
    ]
    if paper is None:
        paper = Paper(
            cycle_id=cycle_id,
            code=spec.code,
            created_at=now,
            name=spec.name,
            kind=spec.kind,
            duration_minutes=spec.duration_minutes,
            pass_mark=spec.pass_mark,
            attempt_limit_simple=spec.attempt_limit_simple,
            attempt_limit_general=spec.attempt_limit_general,
        )
        db.session.add(paper)
    else:
        used = (
            db.session.scalar(sa.select(sa.func.count()).where(Attempt.paper_id == paper.id)) or 0
        )
        changed = (
            spec.duration_minutes != paper.duration_minutes
            or spec.pass_mark != paper.pass_mark
            or [(s.bank_id, s.qtype, s.tags, s.count, s.points_per_item) for s in new_sections]
            != [(s.bank_id, s.qtype, s.tags, s.count, s.points_per_item) for s in paper.sections]
        )
        if used and changed:
            raise PaperRefused(
                [
                    f"已有 {used} 次测评使用此试卷，不能再修改组卷规则、时长或合格分数；如需调整请新建试卷"
                ]
            )
        paper.sections.clear()
        db.session.flush()
    paper.name, paper.kind = spec.name, spec.kind
    paper.practice_categories = [c.value for c in spec.practice_categories]
    paper.physician_levels = [lvl.value for lvl in spec.physician_levels]
    paper.duration_minutes, paper.pass_mark = spec.duration_minutes, spec.pass_mark
    paper.shuffle_questions, paper.shuffle_options = spec.shuffle_questions, spec.shuffle_options
    paper.attempt_limit_simple, paper.attempt_limit_general = (
        spec.attempt_limit_simple,
        spec.attempt_limit_general,
    )
    paper.prerequisite_id = prerequisite.id if prerequisite else None
    paper.sections.extend(new_sections)
    db.session.flush()
    shortfalls = blueprint_shortfalls(paper)
    if shortfalls:
        raise PaperRefused([s.message for s in shortfalls])
    return paper


def preview(paper: Paper, seed: int, *, with_answers: bool = False) -> list[dict[str, Any]]:
    """A sample of the paper as a candidate would see it (answers only when asked)."""
    items = draw_questions(paper, seed)
    questions = {
        q.id: q
        for q in db.session.scalars(
            sa.select(Question).where(Question.id.in_([i.question_id for i in items]))
        )
    }
    out = []
    for number, item in enumerate(items, start=1):
        question = questions[item.question_id]
        kind = QUESTION_TYPES[question.qtype]
        view: dict[str, Any] = {
            "number": number,
            "section": item.section_position,
            "points": item.points_per_item,
            "label": kind.label_zh,
            **kind.public_view(question.data, item.option_order),
        }
        if with_answers:
            view["key"] = kind.display_key(question.data, item.option_order)
        out.append(view)
    return out


# --- test sites and sessions ---------------------------------------------------------


def create_site(code: str, name: str, address: str | None) -> Site:
    if db.session.scalars(sa.select(Site).where(Site.code == code)).first():
        raise ValueError(f"考点编号 {code} 已存在")
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
    from examsvc.accounts.models import User
    from examsvc.enums import Role

    users = db.session.scalars(sa.select(User).where(User.id.in_(user_ids))).all()
    wrong = [u.display_name for u in users if u.role != Role.INVIGILATOR or not u.active]
    if wrong or len(users) != len(set(user_ids)):
        raise ValueError("只能指派有效的监考人员账号：" + "、".join(wrong))
    db.session.execute(
        session_invigilators.delete().where(session_invigilators.c.session_id == session.id)
    )
    if users:
        db.session.execute(
            session_invigilators.insert(),
            [{"session_id": session.id, "user_id": u.id} for u in users],
        )


def assign_candidates(session: ExamSession, registration_ids: list[str]) -> int:
    """Add candidates by registration id: all of them, or none when one is unknown."""
    from examsvc.roster.models import Physician

    wanted = sorted({r.strip() for r in registration_ids if r.strip()})
    paper = db.session.get(Paper, session.window.paper_id)
    assert paper is not None
    found = {
        p.registration_id: p
        for p in db.session.scalars(
            sa.select(Physician).where(
                Physician.cycle_id == paper.cycle_id, Physician.registration_id.in_(wanted)
            )
        )
    }
    missing = [r for r in wanted if r not in found]
    if missing:
        raise ValueError(
            "以下报名编号不在本周期名单中："
            + "、".join(missing[:20])
            + ("……" if len(missing) > 20 else "")
        )
    present = set(
        db.session.scalars(
            sa.select(session_candidates.c.physician_id).where(
                session_candidates.c.session_id == session.id
            )
        )
    )
    rows = [
        {"session_id": session.id, "physician_id": p.id}
        for p in found.values()
        if p.id not in present
    ]
    if rows:
        db.session.execute(session_candidates.insert(), rows)
    return len(rows)


def sessions_of(user_id: int) -> list[ExamSession]:
    """The sessions an invigilator is assigned to."""
    return list(
        db.session.scalars(
            sa.select(ExamSession)
            .join(session_invigilators, session_invigilators.c.session_id == ExamSession.id)
            .where(session_invigilators.c.user_id == user_id)
            .order_by(ExamSession.id)
        )
    )
