"""Demo data a newcomer can click through: a cycle, staff, physicians of both procedures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from examsvc.accounts import operations as accounts
from examsvc.accounts.ids import check_digit, to_15
from examsvc.accounts.models import User
from examsvc.banks.models import QuestionBank
from examsvc.banks.operations import BankInfo, import_bank, set_open_for_study
from examsvc.enums import PaperKind, PracticeCategory, Role, WindowRound
from examsvc.extensions import db
from examsvc.papers.models import Paper
from examsvc.papers.operations import add_window, save_paper
from examsvc.papers.schemas import PaperSpec
from examsvc.roster import operations as roster
from examsvc.roster.models import Cycle
from examsvc.roster.schemas import CycleInfo, RosterItem
from question_banks.samples import SAMPLE_BANKS, load_sample, sample_bytes

CYCLE = CycleInfo(
    code="DEMO-2026",
    name="2024-2026 周期（演示）",
    starts_on=date(2024, 1, 1),
    ends_on=date(2026, 12, 31),
)


STAFF = [
    (Role.ADMIN, "admin", "考核机构管理员（演示）", "Demo-Admin-2026"),
    (Role.INVIGILATOR, "jiankao", "监考老师（演示）", "Demo-Proctor-2026"),
    (Role.VIEWER, "viewer", "卫生行政部门（演示）", "Demo-Viewer-2026"),
]
# (n, name, procedure, category, level, exemptions, work performance, ethics, birth)
PHYSICIANS: list[tuple[int, str, str, str, str, list[str], str, str, str]] = [
    (1, "演示医师1号", "simple", "clinical", "physician", [], "pass", "pass", "19650312"),
    (2, "演示医师2号", "general", "clinical", "physician", [], "pass", "pass", "19780521"),
    (
        3,
        "演示医师3号",
        "general",
        "dental",
        "physician",
        ["professional"],
        "pass",
        "pass",
        "19820101",
    ),
    (4, "演示医师4号", "simple", "tcm", "assistant", ["humanities"], "pass", "pass", "19700808"),
    (5, "演示医师5号", "general", "public_health", "physician", [], "pass", "pass", "19850615"),
    (6, "演示医师6号", "general", "clinical", "assistant", [], "fail", "pass", "19751120"),
    (7, "演示医师7号", "simple", "clinical", "physician", [], "pending", "pass", "19690228"),
]


@dataclass
class DemoAccount:
    who: str
    login: str
    password: str
    note: str


def demo_id(n: int, birth: str) -> str:
    body = f"430102{birth}{n:03d}"
    return body + check_digit(body)


def load(*, now: datetime) -> list[DemoAccount]:
    """Create (or refresh) the demo data; safe to run again."""
    cycle = roster.ensure_cycle(CYCLE)
    accounts_out: list[DemoAccount] = []
    for role, login, name, password in STAFF:
        user = db.session.scalars(sa.select(User).where(User.login == login)).first()
        if user is None:
            user = accounts.create_staff(role, login, name, password, now=now)
            user.must_change_password = False  # a demo account, documented in the README
        accounts_out.append(DemoAccount(name, login, password, ""))
    items = []
    for n, name, procedure, category, level, exemptions, work, ethics, birth in PHYSICIANS:
        number = demo_id(n, birth)
        raw: dict[str, Any] = {
            "registration_id": f"DEMO-{n:04d}",
            "status": "approved",
            "id_type": "resident_id",
            "id_number": number,
            "name": name,
            "gender": "F" if n % 2 else "M",
            "birth_date": f"{birth[:4]}-{birth[4:6]}-{birth[6:]}",
            "phone": None,
            "institution": {"code": "DEMO-001", "name": "演示市第一人民医院"},
            "department": "内科",
            "practice_category": category,
            "physician_level": level,
            "procedure": procedure,
            "exemptions": exemptions,
            "evaluation": {"work_performance": work, "ethics": ethics},
        }
        items.append(RosterItem.model_validate(raw))
        note = {"simple": "简易程序", "general": "一般程序"}[procedure]
        if exemptions:
            note += "，免考" + "、".join(
                {"humanities": "人文", "professional": "业务"}[e] for e in exemptions
            )
        if work != "pass":
            note += f"，工作成绩{ {'fail': '不合格', 'pending': '待定'}[work] }"
        accounts_out.append(DemoAccount(name, f"{number} 或 {to_15(number)}", "666666", note))
    roster.import_items(cycle, items, now=now)
    db.session.flush()
    return accounts_out


def demo_cycle() -> Cycle | None:
    return db.session.scalars(sa.select(Cycle).where(Cycle.code == CYCLE.code)).first()


def demo_papers(cycle_id: int) -> list[dict[str, Any]]:
    """The humanities paper, and one professional paper per category (humanities first)."""
    humanities = {
        "code": "HUM-2026",
        "name": "2026 医学人文测评试卷",
        "kind": "humanities",
        "duration_minutes": 60,
        "pass_mark": 60,
        "attempt_limit_simple": 20,
        "attempt_limit_general": 1,
        "sections": [
            {
                "title": "一、单选题",
                "bank": "humanities",
                "qtype": "single",
                "count": 30,
                "points_per_item": 2,
            },
            {
                "title": "二、多选题",
                "bank": "humanities",
                "qtype": "multiple",
                "count": 10,
                "points_per_item": 2,
            },
            {
                "title": "三、判断题",
                "bank": "humanities",
                "qtype": "true_false",
                "count": 10,
                "points_per_item": 1,
            },
            {
                "title": "四、病例组型题",
                "bank": "humanities",
                "qtype": "case",
                "count": 2,
                "points_per_item": 2,
            },
            {
                "title": "五、配伍题",
                "bank": "humanities",
                "qtype": "matching",
                "count": 2,
                "points_per_item": 2,
            },
        ],
    }
    names = {"clinical": "临床", "dental": "口腔", "public_health": "公共卫生", "tcm": "中医"}
    papers = [humanities]
    for category, zh in names.items():
        bank = f"professional-{category.replace('_', '-')}"
        papers.append(
            {
                "code": f"PRO-{category.upper().replace('_', '-')}-2026",
                "name": f"2026 专业知识业务水平{zh}测评试卷",
                "kind": "professional",
                "practice_categories": [category],
                "duration_minutes": 60,
                "pass_mark": 60,
                "attempt_limit_simple": 1,
                "attempt_limit_general": 1,
                "prerequisite": "HUM-2026",
                "sections": [
                    {
                        "title": "一、单选题",
                        "bank": bank,
                        "qtype": "single",
                        "count": 15,
                        "points_per_item": 2,
                    },
                    {
                        "title": "二、多选题",
                        "bank": bank,
                        "qtype": "multiple",
                        "count": 4,
                        "points_per_item": 2,
                    },
                    {
                        "title": "三、判断题",
                        "bank": bank,
                        "qtype": "true_false",
                        "count": 5,
                        "points_per_item": 1,
                    },
                    {
                        "title": "四、病例组型题",
                        "bank": bank,
                        "qtype": "case",
                        "count": 2,
                        "points_per_item": 2,
                    },
                    {
                        "title": "五、配伍题",
                        "bank": bank,
                        "qtype": "matching",
                        "count": 1,
                        "points_per_item": 2,
                    },
                ],
            }
        )
    return papers


def load_exam_setup(cycle: Cycle, *, now: datetime) -> list[str]:
    """Sample banks (once), the demo papers, a regular window open now and a makeup window."""
    lines = []
    for filename, code, name, kind, category in SAMPLE_BANKS:
        if db.session.scalars(sa.select(QuestionBank).where(QuestionBank.code == code)).first():
            continue
        _, data = sample_bytes(code)
        version = import_bank(
            load_sample(code),
            BankInfo(code, name, PaperKind(kind), PracticeCategory(category) if category else None),
            filename=filename,
            data=data,
            actor_id=None,
            now=now,
        )
        lines.append(f"题库 {name}：{version.question_count} 题")
        if kind == "humanities":
            # The demo agency publishes its humanities bank for study (docs/security.md,
            # "Study mode and banks"); the professional banks stay closed, as by default.
            set_open_for_study(version.bank, True, actor_id=None, now=now)
            lines.append(f"题库 {name}：已开放学习")
    for raw in demo_papers(cycle.id):
        existing = db.session.scalars(
            sa.select(Paper).where(Paper.cycle_id == cycle.id, Paper.code == raw["code"])
        ).first()
        if existing is not None:
            continue
        paper = save_paper(cycle.id, PaperSpec.model_validate(raw), now=now)
        add_window(
            paper,
            round=WindowRound.REGULAR,
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=10),
        )
        add_window(
            paper,
            round=WindowRound.MAKEUP,
            opens_at=now + timedelta(days=20),
            closes_at=now + timedelta(days=25),
        )
        lines.append(f"试卷 {paper.name}：考试时间即日起10天，补考在20天后")
    return lines
