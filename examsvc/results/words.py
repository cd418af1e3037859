"""The write-back in people's words: delivery states, verdicts, rounds, papers, the
registry's refusals and the comparison's outcomes (marked here, translated where shown)."""

from __future__ import annotations

import json

from examsvc.marks import N_

DELIVERY_LABELS = {
    "delivered": N_("已回传"),
    "pending": N_("待回传"),
    "refused": N_("回传被拒"),
    "superseded": N_("已被新结果取代"),
}
VERDICT_LABELS = {"pass": N_("合格"), "fail": N_("不合格")}
ROUND_LABELS = {"regular": N_("常规"), "makeup": N_("补考")}
PAPER_LABELS = {"humanities": N_("医学人文"), "professional": N_("业务水平")}
PAPER_STATUS_LABELS = {
    "passed": N_("合格"),
    "failed": N_("不合格"),
    "exempt": N_("免考"),
    "absent": N_("缺考"),
    "voided": N_("违纪作废"),
}
COMPARISON_LABELS = {
    "same": N_("一致"),
    "different": N_("不一致"),
    "missing": N_("登记系统无记录"),
    "unreadable": N_("无法读取"),
}
# What differs, by the field of the result (registry API v1 §2).
FIELD_LABELS = {"verdict": N_("结论"), "round": N_("轮次"), "papers": N_("试卷成绩")}

CLOSED = N_("登记系统记录已关闭（已退出周期或已锁定），不会自动重试")
REJECTED = N_("登记系统拒收，不会自动重试")


def refusal_reason(status: int | None) -> str:
    """Why the registry did not store it, in words (409: the record is closed)."""
    return CLOSED if status == 409 else REJECTED


def registry_answer(text: str | None) -> str:
    """The registry's answer as a person reads it: the ``message`` of a JSON error body
    (``{"error": {"message": …}}`` or ``{"message": …}``), else the text as it came."""
    if not text:
        return ""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()
    found = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(found, dict):
        found = found.get("message") or found.get("detail") or found.get("code")
    if isinstance(found, str) and found.strip():
        return found.strip()
    return text.strip()
