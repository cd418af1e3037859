"""The kinds of an administrator's override (个人特殊安排) in the agency's words, for the
roster page and the audit log."""

from __future__ import annotations

from examsvc.enums import OverrideKind
from examsvc.marks import N_

OVERRIDE_LABELS = {
    OverrideKind.EXTRA_ATTEMPTS.value: N_("增加可考次数"),
    OverrideKind.WINDOW.value: N_("个人考试时间"),
    OverrideKind.MAKEUP_AFTER_VOID.value: N_("违纪终止后准许补考"),
    OverrideKind.EXTRA_TIME.value: N_("延长测评时间"),
}
