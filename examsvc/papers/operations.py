"""Papers: drawing an attempt's questions from the blueprint, shortfalls, windows."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from examsvc.banks.models import BankVersion, Question, QuestionBank
from examsvc.banks.operations import (
    QUESTIONS,
    QuestionData,
    counts,
    current_version,
    current_version_id,
    question_data,
)
from examsvc.clock import beijing_time
from examsvc.enums import AttemptStatus, WindowRound
from examsvc.errors import Invalid, Refused
from examsvc.extensions import db, table
from examsvc.lru import LRU
from examsvc.marks import N_, Text
from examsvc.papers.models import (
    ExamWindow,
    Paper,
    PaperAssignment,
    PaperSection,
)
from examsvc.papers.queries import slots_of
from examsvc.papers.schemas import PaperSpec
from question_banks.types import QUESTION_TYPES

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


CANDIDATES = "papers.candidates"  # app.extensions key: this app's kept candidate lists
Candidates = tuple[tuple[int, str], ...]  # (id, external_id) in external_id order


@dataclass(frozen=True)
class Section:
    """A blueprint line as a draw reads it, with its bank's current version (None: the bank
    has none)."""

    position: int
    title: str
    bank_id: int
    qtype: str
    tags: tuple[str, ...]
    count: int
    points_per_item: float
    version_id: int | None
    version_sha256: str | None


@dataclass(frozen=True)
class Blueprint:
    """What a start reads of its paper: the draw's settings and sections, the duration and
    the name, as plain data."""

    id: int
    name: str
    duration_minutes: int
    shuffle_questions: bool
    shuffle_options: bool
    sections: tuple[Section, ...]


_BLUEPRINT = (
    sa.select(
        Paper.id,
        Paper.name,
        Paper.duration_minutes,
        Paper.shuffle_questions,
        Paper.shuffle_options,
        PaperSection.position,
        PaperSection.title,
        PaperSection.bank_id,
        PaperSection.qtype,
        PaperSection.tags,
        PaperSection.count.label("section_count"),  # not Row.count
        PaperSection.points_per_item,
        BankVersion.id.label("version_id"),
        BankVersion.source_sha256,
    )
    .outerjoin(PaperSection, PaperSection.paper_id == Paper.id)
    .outerjoin(BankVersion, BankVersion.id == current_version_id(PaperSection.bank_id))
    .where(Paper.id == sa.bindparam("paper_id"))
    .order_by(PaperSection.position)
)


def blueprint_of(paper_id: int) -> Blueprint | None:
    """The paper's blueprint with each section's current bank version, in one statement
    built once. Read at every start, not kept: a paper has no version of its own, and its
    sections (while no attempt uses it) and its shuffle settings (at any time) can be
    edited (``save_paper``) by another process."""
    rows = db.session.execute(_BLUEPRINT, {"paper_id": paper_id}).all()
    if not rows:
        return None
    first = rows[0]
    return Blueprint(
        first.id,
        first.name,
        first.duration_minutes,
        first.shuffle_questions,
        first.shuffle_options,
        tuple(
            Section(
                r.position,
                r.title,
                r.bank_id,
                r.qtype,
                tuple(r.tags or ()),
                r.section_count,
                r.points_per_item,
                r.version_id,
                r.source_sha256,
            )
            for r in rows
            if r.position is not None
        ),
    )


# A candidate list at most this long has its questions' data read with it, and kept
# (``banks.operations.question_data``): the draws after the first find every question
# kept. A longer one (a bank far larger than a paper) leaves them to be read as drawn.
KEEP_WITH_CANDIDATES = QUESTIONS // 8


def _candidates(section: Section) -> Candidates:
    """The section's candidate questions as (id, external_id), in external_id order. A bank
    version's questions never change once imported, so the list is kept in the process
    (per app, keyed by the version and its file's hash), and so are their data."""
    if section.version_id is None:
        return ()
    tags = tuple(sorted(section.tags))
    key = (section.version_id, section.version_sha256, section.qtype, tags)
    store: LRU[Any, Candidates] = current_app.extensions.setdefault(CANDIDATES, LRU(256))
    found = store.get(key)
    if found is None:
        query = sa.select(Question.id, Question.external_id).where(
            Question.version_id == section.version_id, Question.qtype == section.qtype
        )
        if tags:
            query = query.where(Question.tag.in_(tags))
        found = tuple(
            (qid, ext) for qid, ext in db.session.execute(query.order_by(Question.external_id))
        )
        if len(found) <= KEEP_WITH_CANDIDATES:
            question_data(qid for qid, _ in found)  # read once and kept
        store.put(key, found)
    return found


def warm(now: datetime) -> None:
    """Before serving (``examsvc.warm``): the blueprint and every section's candidate list
    (with their questions' data) of each paper with a window not yet closed, so that no
    candidate's start reads them."""
    papers = db.session.scalars(
        sa.select(ExamWindow.paper_id).where(ExamWindow.closes_at > now).distinct()
    ).all()
    for paper_id in papers:
        blueprint = blueprint_of(paper_id)
        for section in blueprint.sections if blueprint else ():
            _candidates(section)


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
            tags = "、".join(section.tags) if section.tags else N_("全部知识点")
            shortfalls.append(
                Shortfall(
                    section.position,
                    have,
                    section.count,
                    N_(
                        "第 {n} 节「{title}」：题库「{bank}」知识点「{tags}」的{qtype}只有 {have} 道，"
                        "本节需要 {count} 道",
                        n=section.position,
                        title=section.title,
                        bank=bank.name if bank else section.bank_id,
                        tags=tags,
                        qtype=Text(TYPE_ZH.get(section.qtype, section.qtype)),
                        have=have,
                        count=section.count,
                    ),
                )
            )
    return shortfalls


def draw_questions(paper: Paper, seed: int) -> list[DrawnItem]:
    """``draw`` from the paper as it is stored (flushed) now."""
    blueprint = blueprint_of(paper.id)
    assert blueprint is not None
    return draw(blueprint, seed)[0]


def draw(blueprint: Blueprint, seed: int) -> tuple[list[DrawnItem], dict[int, QuestionData]]:
    """The attempt's questions, and their data: reproducible from the seed, sections in
    order. Each section draws with a generator of its own, so all sections sample first,
    then the chosen questions' data (``banks.operations.question_data``: kept in the
    process, the missing ones read in one query) gives their option orders."""
    sampled = []
    for section in blueprint.sections:
        rng = random.Random(f"{seed}:{section.position}")
        candidates = _candidates(section)
        if len(candidates) < section.count:
            # The bank's current version changed since the paper was saved: refuse with
            # the shortfalls in plain words (a 409, never a 500).
            paper = db.session.get(Paper, blueprint.id)
            assert paper is not None
            raise Refused(
                "paper_cannot_be_drawn",
                N_("试卷无法组卷，请联系考核机构：{problem}"),
                [{"message": s.message} for s in blueprint_shortfalls(paper)],
                problem=N_(
                    "第 {n} 节「{title}」需要 {count} 道题，题库中只有 {have} 道",
                    n=section.position,
                    title=section.title,
                    count=section.count,
                    have=len(candidates),
                ),
            )
        chosen = rng.sample(candidates, section.count)
        if not blueprint.shuffle_questions:
            chosen.sort(key=lambda q: q[1])
        sampled.append((section, rng, chosen))
    data = question_data(qid for _, _, chosen in sampled for qid, _ in chosen)
    drawn: list[DrawnItem] = []
    for section, rng, chosen in sampled:
        kind = QUESTION_TYPES[section.qtype]
        for qid, _ in chosen:
            order = kind.shuffled_order(data[qid].data, rng) if blueprint.shuffle_options else None
            drawn.append(DrawnItem(qid, section.position, section.points_per_item, order))
    return drawn, data


def total_points(items: list[DrawnItem]) -> float:
    scoring = {
        q.id: q.scoring_items
        for q in db.session.scalars(
            sa.select(Question).where(Question.id.in_([i.question_id for i in items]))
        )
    }
    return sum(i.points_per_item * scoring[i.question_id] for i in items)


class WindowChangeRefused(Refused):
    """A change that would cut running attempts short, refused with the reason."""

    def __init__(self, message: str) -> None:
        super().__init__("window_change_refused", message)


def running_attempts(window: ExamWindow) -> tuple[int, datetime | None]:
    attempts = table("attempts")  # attempts are above papers: read, never imported
    count, latest = db.session.execute(
        sa.select(sa.func.count(), sa.func.max(attempts.c.deadline_at)).where(
            attempts.c.window_id == window.id, attempts.c.status == AttemptStatus.IN_PROGRESS
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
        raise WindowChangeRefused(N_("结束时间须晚于开始时间"))
    count, latest = running_attempts(window)
    if count and latest is not None and closes_at < latest and not let_running_finish:
        raise WindowChangeRefused(
            N_(
                "该时段有 {count} 场测评正在进行，最晚至 {latest} 结束；提前结束会中断考试。"
                "如确认让进行中的测评继续到原定时间，请勾选“允许进行中的测评按原时间完成”。",
                count=count,
                latest=beijing_time(latest),
            )
        )
    if count and opens_at > now and window.opens_at <= now:
        raise WindowChangeRefused(N_("已有测评进行中，不能推迟开始时间"))
    if closes_at != window.closes_at:
        window.results_swept_at = None  # the new close decides again
    window.opens_at, window.closes_at = opens_at, closes_at
    db.session.flush()


def add_window(
    paper: Paper,
    *,
    round: WindowRound,
    opens_at: datetime,
    closes_at: datetime,
    attempt_limit: int | None = None,
) -> ExamWindow:
    if closes_at <= opens_at:
        raise WindowChangeRefused(N_("结束时间须晚于开始时间"))
    window = ExamWindow(paper_id=paper.id, round=round, opens_at=opens_at, closes_at=closes_at)
    db.session.add(window)
    set_attempt_limit(window, attempt_limit)
    return window


def set_attempt_limit(window: ExamWindow, attempt_limit: int | None) -> None:
    """A makeup window's own attempt limit (None: the paper's); regular windows have none."""
    if attempt_limit is not None and window.round != WindowRound.MAKEUP:
        raise WindowChangeRefused(N_("只有补考时间可以单独设置可考次数"))
    window.attempt_limit = attempt_limit
    db.session.flush()


class PaperRefused(Invalid):
    """A paper definition that cannot be saved; ``problems`` says why, in plain words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("paper_refused", N_("试卷未保存"), [{"message": p} for p in problems])
        self.problems = problems
        self.args = ("; ".join(problems),)  # said whole where no details are shown (CLI)


def save_paper(cycle_id: int, spec: PaperSpec, *, now: datetime) -> Paper:
    """Create or update a paper; refused when a bank cannot fill it or attempts pin it."""
    attempts = table("attempts")  # attempts are above papers: read, never imported
    problems: list[str] = []
    banks = {
        b.code: b
        for b in db.session.scalars(
            sa.select(QuestionBank).where(QuestionBank.code.in_([s.bank for s in spec.sections]))
        )
    }
    for i, section in enumerate(spec.sections, start=1):
        if section.bank not in banks:
            problems.append(N_("第 {n} 节：没有编号为「{bank}」的题库", n=i, bank=section.bank))
    prerequisite = None
    if spec.prerequisite:
        prerequisite = db.session.scalars(
            sa.select(Paper).where(Paper.cycle_id == cycle_id, Paper.code == spec.prerequisite)
        ).first()
        if prerequisite is None:
            problems.append(N_("前置试卷「{code}」不存在", code=spec.prerequisite))
        elif prerequisite.code == spec.code:
            problems.append(N_("试卷不能以自己为前置试卷"))
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
            db.session.scalar(sa.select(sa.func.count()).where(attempts.c.paper_id == paper.id))
            or 0
        )
        changed = (
            spec.kind != paper.kind  # the attempts' tallies count under the paper's kind
            or spec.duration_minutes != paper.duration_minutes
            or spec.pass_mark != paper.pass_mark
            or [(s.bank_id, s.qtype, s.tags, s.count, s.points_per_item) for s in new_sections]
            != [(s.bank_id, s.qtype, s.tags, s.count, s.points_per_item) for s in paper.sections]
        )
        if used and changed:
            raise PaperRefused(
                [
                    N_(
                        "已有 {used} 次测评使用此试卷，不能再修改试卷类型、组卷规则、时长或合格分数。"
                        "如需调整：以新的试卷编号保存新试卷，再在试卷列表中对新试卷点击「设为当前使用」"
                        "（本试卷没有进行中的测评时才能更换；已开始本试卷的医师继续使用本试卷）",
                        used=used,
                    )
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
    _fill_free_slots(paper, now)
    return paper


def _assignments(paper: Paper) -> list[PaperAssignment]:
    return list(
        db.session.scalars(
            sa.select(PaperAssignment).where(
                PaperAssignment.cycle_id == paper.cycle_id, PaperAssignment.kind == paper.kind
            )
        )
    )


def _fill_free_slots(paper: Paper, now: datetime) -> None:
    """The first paper saved for a slot is assigned to it; a paper no longer written for a
    slot leaves it. Replacing another paper is always the explicit ``assign_paper``."""
    slots = set(slots_of(paper))
    taken = set()
    for row in _assignments(paper):
        key = (row.practice_category, row.physician_level)
        if row.paper_id == paper.id and key not in slots:
            db.session.delete(row)
        else:
            taken.add(key)
    db.session.add_all(
        PaperAssignment(
            cycle_id=paper.cycle_id,
            kind=paper.kind,
            practice_category=category,
            physician_level=level,
            paper_id=paper.id,
            assigned_at=now,
        )
        for category, level in sorted(slots - taken)
    )
    db.session.flush()


class AssignRefused(Refused):
    """A re-assignment the rules do not allow now, with the reason in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__("assign_refused", message)


def assign_paper(paper: Paper, *, now: datetime) -> list[Paper]:
    """Make ``paper`` the one its physicians sit from now on, in every slot it is written for;
    returns the papers it replaces. Refused while one of those has an attempt in progress."""
    attempts = table("attempts")  # attempts are above papers: read, never imported
    slots = set(slots_of(paper))
    rows = [r for r in _assignments(paper) if (r.practice_category, r.physician_level) in slots]
    replaced = sorted({r.paper for r in rows if r.paper_id != paper.id}, key=lambda p: p.code)
    for old in replaced:
        running = db.session.scalar(
            sa.select(sa.func.count()).where(
                attempts.c.paper_id == old.id, attempts.c.status == AttemptStatus.IN_PROGRESS
            )
        )
        if running:
            raise AssignRefused(
                N_(
                    "试卷「{name}」有 {running} 场测评正在进行，"
                    "请在这些测评结束后（或在两个考试时段之间）再更换",
                    name=old.name,
                    running=running,
                )
            )
    for row in rows:
        if row.paper_id != paper.id:
            row.paper_id, row.assigned_at = paper.id, now
    db.session.flush()
    _fill_free_slots(paper, now)
    return replaced


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
            **kind.candidate_view(question.data, item.option_order),
        }
        if with_answers:
            view["key"] = kind.display_key(question.data, item.option_order)
        out.append(view)
    return out
