"""The audit log in people's words: each action's Chinese name, and details as readable
``名称：值`` pairs (codes turned into words, times in Beijing time, ID numbers masked)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from examsvc.accounts import ROLE_LABELS
from examsvc.accounts.ids import mask
from examsvc.attempts.words import OVERRIDE_LABELS
from examsvc.clock import beijing_time
from examsvc.invigilation.words import SNAPSHOT_LABELS
from examsvc.marks import N_
from examsvc.web.i18n import gettext

# Every action that ``record()`` is called with (a test checks the code against this table).
ACTION_LABELS = {
    "login": N_("登录"),
    "login.failed": N_("登录失败"),
    "logout": N_("退出登录"),
    "user.create": N_("新建账号"),
    "user.active": N_("启用或停用账号"),
    "user.reset_password": N_("重置密码"),
    "user.password_change": N_("修改密码"),
    "user.claim_face": N_("首次登录人脸核验"),
    "attempt.submit": N_("交卷"),
    "entry.override": N_("准许免于人脸验证进入测评"),
    "roster.import": N_("导入考生名单"),
    "roster.allowance": N_("设置延长时间"),
    "bank.import": N_("导入题库"),
    "bank.study_open": N_("开放题库供学习"),
    "bank.study_close": N_("关闭题库学习"),
    "paper.save": N_("保存试卷"),
    "paper.assign": N_("设为当前使用"),
    "window.add": N_("添加考试时间"),
    "window.change": N_("修改考试时间"),
    "site.create": N_("新建考点"),
    "session.create": N_("新建场次"),
    "session.assign": N_("安排场次考生"),
    "face.calibrate": N_("人脸阈值校准"),
    "proctor.view": N_("查看考生抓拍与核验照片"),
    "proctor.warn": N_("向考生发送提醒"),
    "proctor.review": N_("复核抓拍标记"),
    "proctor.entry_review": N_("复核入场人脸核验"),
    "attempt.void": N_("违纪作废测评"),
    "results.resend": N_("重新发送考核结果"),
    "results.resend_refused": N_("重新发送全部被拒的考核结果"),
    "results.export": N_("导出考核结果"),
    "override.grant": N_("设置个人特殊安排"),
    "override.revoke": N_("撤销个人特殊安排"),
}

# The filter on the page: a group of actions by their key prefixes.
FILTERS = {
    "login": (N_("登录与退出"), ("login", "logout")),
    "user": (N_("账号与密码"), ("user.",)),
    "attempt": (N_("测评与交卷"), ("attempt.", "entry.")),
    "roster": (N_("考生名单"), ("roster.", "override.")),
    "bank": (N_("题库"), ("bank.",)),
    "paper": (N_("试卷与考试时间"), ("paper.", "window.")),
    "session": (N_("考点与场次"), ("site.", "session.")),
    "face": (N_("人脸验证"), ("face.",)),
    "proctor": (N_("监考"), ("proctor.",)),
    "results": (N_("结果回传"), ("results.",)),
}

OBJECT_LABELS = {
    "user": N_("账号"),
    "cycle": N_("考核周期"),
    "physician": N_("考生"),
    "bank": N_("题库"),
    "paper": N_("试卷"),
    "window": N_("考试时间"),
    "site": N_("考点"),
    "session": N_("场次"),
    "attempt": N_("测评"),
    "face_calibration": N_("人脸阈值校准版本"),
    "result_delivery": N_("回传记录"),
}

DETAIL_LABELS = {
    "login": N_("登录名"),
    "address": N_("IP 地址"),
    "reason": N_("原因"),
    "role": N_("角色"),
    "active": N_("状态"),
    "via": N_("操作途径"),
    "filename": N_("文件名"),
    "rows": N_("行数"),
    "version": N_("版本"),
    "questions": N_("题目数"),
    "code": N_("编号"),
    "paper": N_("试卷"),
    "closes_at": N_("结束时间"),
    "opens_at": N_("开始时间"),
    "minutes": N_("延长分钟数"),
    "window": N_("考试时间编号"),
    "added_candidates": N_("新增考生人数"),
    "score": N_("得分"),
    "passed": N_("是否合格"),
    "replaced": N_("替换的试卷"),
    "pairs": N_("照片对数"),
    "entry_accept": N_("入场通过阈值"),
    "entry_reject": N_("入场复核阈值"),
    "message": N_("提醒内容"),
    "snapshot": N_("抓拍编号"),
    "status": N_("抓拍结果"),
    "check": N_("核验编号"),
    "verdict": N_("复核结论"),
    "physician": N_("报名编号"),
    "outcome": N_("核验结果"),
    "was": N_("原回传状态"),
    "count": N_("条数"),
    "format": N_("文件格式"),
    "full_ids": N_("含完整证件号码"),
    "institution": N_("单位编号"),
    "round": N_("类型"),
    "attempt_limit": N_("补考可考次数"),
    "kind": N_("安排"),
    "attempts": N_("增加次数"),
}

_VALUE_LABELS: dict[str, dict[Any, str]] = {
    "reason": {
        "bad_credentials": N_("证件号码（用户名）或密码错误"),
        "throttled": N_("尝试次数过多，须等待"),
        "invalid_id_number": N_("身份证号码校验码不正确"),
        "candidate": N_("考生交卷"),
        "deadline": N_("时间到自动交卷"),
        "invigilator": N_("监考人员收卷"),
    },
    "role": dict(ROLE_LABELS),
    "active": {True: N_("启用"), False: N_("停用")},
    "passed": {True: N_("合格"), False: N_("不合格")},
    "via": {"cli": N_("命令行")},
    "was": {"refused": N_("回传被拒"), "pending": N_("待回传")},
    "status": dict(SNAPSHOT_LABELS),
    "verdict": {"same": N_("是本人"), "different": N_("不是本人")},
    "round": {"regular": N_("正式考试"), "makeup": N_("补考")},
    "kind": dict(OVERRIDE_LABELS),
    "outcome": {
        "passed": N_("通过"),
        "review": N_("待复核"),
        "mismatch": N_("不是本人"),
        "retry": N_("未完成，须重试"),
        "multiple_faces": N_("画面中有多人"),
    },
}

_ID_NUMBER = re.compile(r"^\d{15}$|^\d{17}[\dXx]$")


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def object_label(object_type: str, object_id: str | None) -> str:
    label = gettext(OBJECT_LABELS[object_type]) if object_type in OBJECT_LABELS else object_type
    return f"{label} {object_id}" if object_id else label


def _value(key: str, value: Any) -> str:
    if (words := _VALUE_LABELS.get(key)) is not None and value in words:
        return gettext(words[value])
    if isinstance(value, bool):
        return gettext(N_("是") if value else N_("否"))
    if key == "score" and isinstance(value, int | float):
        return gettext("{n}分", n=f"{value:g}")
    if isinstance(value, str):
        if _ID_NUMBER.match(value):
            return mask(value)
        try:
            return beijing_time(datetime.fromisoformat(value)) if "T" in value else value
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return gettext("、").join(_value(key, v) for v in value)
    if isinstance(value, dict):
        return gettext("；").join(f"{k}{gettext('：')}{_value(k, v)}" for k, v in value.items())
    return str(value)


def detail_pairs(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """``[(名称, 值), …]`` for the page."""
    return [
        (DETAIL_LABELS.get(key, key), _value(key, value)) for key, value in (detail or {}).items()
    ]
