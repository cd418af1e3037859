"""The candidate's form before starting (进入测评), and the administrators' override forms
(个人特殊安排), read with ``web.errors.form_model``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from examsvc.enums import OverrideKind, WindowRound
from examsvc.marks import N_
from examsvc.papers.schemas import WindowTimes


class PrepareForm(BaseModel):
    """开始考试 with 考前须知 ticked (``rules``); consent is the camera feature's step."""

    rules: bool = False


# --- an administrator's overrides for one physician (个人特殊安排), on the roster page ------


class OverrideForm(BaseModel):
    """What every override form gives: the paper and the reason (required)."""

    paper_id: int = Field(ge=1)
    reason: str = Field(min_length=2, max_length=300)

    @field_validator("reason", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class ExtraAttemptsForm(OverrideForm):
    """增加可考次数."""

    attempts: int = Field(default=1, ge=1, le=10)


class PersonalWindowForm(OverrideForm, WindowTimes):
    """个人考试时间: regular or makeup, its times (Beijing time)."""

    round: WindowRound = WindowRound.REGULAR


class ExtraTimeForm(OverrideForm):
    """延长测评时间, in minutes (the agency's cap is checked by the operation)."""

    minutes: int = Field(ge=1, le=600)


OVERRIDE_FORMS: dict[str, type[OverrideForm]] = {
    OverrideKind.EXTRA_ATTEMPTS.value: ExtraAttemptsForm,
    OverrideKind.WINDOW.value: PersonalWindowForm,
    OverrideKind.MAKEUP_AFTER_VOID.value: OverrideForm,
    OverrideKind.EXTRA_TIME.value: ExtraTimeForm,
}

OVERRIDE_FIELD_LABELS = {
    "paper_id": N_("试卷"),
    "reason": N_("原因"),
    "attempts": N_("增加次数"),
    "round": N_("类型"),
    "opens_at": N_("开始"),
    "closes_at": N_("结束"),
    "minutes": N_("延长分钟数"),
}
