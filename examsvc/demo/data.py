"""Demo data a newcomer can click through: a cycle, staff, physicians of both procedures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from examsvc.accounts import operations as accounts
from examsvc.accounts.ids import check_digit, to_15
from examsvc.accounts.models import User
from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.roster import operations as roster
from examsvc.roster.models import Cycle
from examsvc.roster.schemas import CycleInfo, RosterItem

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
