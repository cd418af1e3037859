"""The audit log in people's words: each action's Chinese name, and details as readable
``名称：值`` pairs (codes turned into words, times in Beijing time, ID numbers masked)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from examsvc.accounts import ROLE_LABELS
from examsvc.accounts.ids import mask
from examsvc.clock import beijing_time

# Every action that ``record()`` is called with (a test checks the code against this table).
ACTION_LABELS = {
    "login": "登录",
    "login.failed": "登录失败",
    "logout": "退出登录",
    "user.create": "新建账号",
    "user.active": "启用或停用账号",
    "user.reset_password": "重置密码",
    "user.password_change": "修改密码",
    "attempt.submit": "交卷",
    "roster.import": "导入考生名单",
    "roster.allowance": "设置延长时间",
    "bank.import": "导入题库",
    "bank.study_open": "开放题库供学习",
    "bank.study_close": "关闭题库学习",
    "paper.save": "保存试卷",
    "paper.assign": "设为当前使用",
    "window.add": "添加考试时间",
    "window.change": "修改考试时间",
    "site.create": "新建考点",
    "session.create": "新建场次",
    "session.assign": "安排场次考生",
}

# The filter on the page: a group of actions by their key prefixes.
FILTERS = {
    "login": ("登录与退出", ("login", "logout")),
    "user": ("账号与密码", ("user.",)),
    "attempt": ("测评与交卷", ("attempt.",)),
    "roster": ("考生名单", ("roster.",)),
    "bank": ("题库", ("bank.",)),
    "paper": ("试卷与考试时间", ("paper.", "window.")),
    "session": ("考点与场次", ("site.", "session.")),
}

OBJECT_LABELS = {
    "user": "账号",
    "cycle": "考核周期",
    "physician": "考生",
    "bank": "题库",
    "paper": "试卷",
    "window": "考试时间",
    "site": "考点",
    "session": "场次",
    "attempt": "测评",
}

DETAIL_LABELS = {
    "login": "登录名",
    "address": "IP 地址",
    "reason": "原因",
    "role": "角色",
    "active": "状态",
    "via": "操作途径",
    "filename": "文件名",
    "rows": "行数",
    "version": "版本",
    "questions": "题目数",
    "code": "编号",
    "paper": "试卷",
    "closes_at": "结束时间",
    "opens_at": "开始时间",
    "minutes": "延长分钟数",
    "window": "考试时间编号",
    "added_candidates": "新增考生人数",
    "score": "得分",
    "passed": "是否合格",
    "replaced": "替换的试卷",
}

_VALUE_LABELS: dict[str, dict[Any, str]] = {
    "reason": {
        "bad_credentials": "证件号码（用户名）或密码错误",
        "throttled": "尝试次数过多，须等待",
        "invalid_id_number": "身份证号码校验码不正确",
        "candidate": "考生交卷",
        "deadline": "时间到自动交卷",
        "invigilator": "监考人员收卷",
    },
    "role": dict(ROLE_LABELS),
    "active": {True: "启用", False: "停用"},
    "passed": {True: "合格", False: "不合格"},
    "via": {"cli": "命令行"},
}

_ID_NUMBER = re.compile(r"^\d{15}$|^\d{17}[\dXx]$")


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def object_label(object_type: str, object_id: str | None) -> str:
    label = OBJECT_LABELS.get(object_type, object_type)
    return f"{label} {object_id}" if object_id else label


def _value(key: str, value: Any) -> str:
    if (words := _VALUE_LABELS.get(key)) is not None and value in words:
        return words[value]
    if isinstance(value, bool):
        return "是" if value else "否"
    if key == "score" and isinstance(value, int | float):
        return f"{value:g}分"
    if isinstance(value, str):
        if _ID_NUMBER.match(value):
            return mask(value)
        try:
            return beijing_time(datetime.fromisoformat(value)) if "T" in value else value
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return "、".join(_value(key, v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}：{_value(k, v)}" for k, v in value.items())
    return str(value)


def detail_pairs(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """``[(名称, 值), …]`` for the page."""
    return [
        (DETAIL_LABELS.get(key, key), _value(key, value)) for key, value in (detail or {}).items()
    ]
