"""The statistics pages' inputs: the filters (query string) and a drill-down's choice."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from examsvc.enums import PhysicianLevel, PracticeCategory, Procedure
from examsvc.marks import N_


class StatisticsFilter(BaseModel):
    """机构, 科室, 执业类别, 执业级别, 考核程序, 试卷: each left empty means all."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    institution: str | None = Field(None, max_length=64)
    department: str | None = Field(None, max_length=100)
    category: PracticeCategory | None = None
    level: PhysicianLevel | None = None
    procedure: Procedure | None = None
    paper: int | None = Field(None, ge=1, le=2**31 - 1)

    def args(self) -> dict[str, Any]:
        """The filters as query arguments (for links that keep them)."""
        return {k: v for k, v in self.model_dump(mode="json").items() if v is not None}


class DrillForm(StatisticsFilter):
    """A drill-down: the filters, and a figure or a paper's state or score band."""

    figure: str | None = Field(None, max_length=20)
    state: str | None = Field(None, max_length=20)
    band: int | None = Field(None, ge=0, le=9)
    page: int = Field(1, ge=1, le=100_000)


LABELS = {
    "institution": N_("机构"),
    "department": N_("科室"),
    "category": N_("执业类别"),
    "level": N_("执业级别"),
    "procedure": N_("考核程序"),
    "paper": N_("试卷"),
    "figure": N_("统计项"),
    "state": N_("状态"),
    "band": N_("分数段"),
    "page": N_("页码"),
}
