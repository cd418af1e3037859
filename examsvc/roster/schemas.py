"""A roster item as the registry API v1 sends it (the file adapter maps rows onto it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from examsvc.enums import (
    Evaluation,
    PhysicianLevel,
    PracticeCategory,
    Procedure,
    RegistrationStatus,
)
from examsvc.errors import Invalid, field_errors
from examsvc.marks import N_


class Institution(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class Evaluations(BaseModel):
    work_performance: Evaluation
    ethics: Evaluation


class PhotoRef(BaseModel):
    url: str = Field(min_length=1, max_length=500)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class RosterItem(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    registration_id: str = Field(min_length=1, max_length=64)
    status: RegistrationStatus
    id_type: Literal["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "other"]
    id_number: str = Field(min_length=5, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    gender: Literal["M", "F"] | None = None
    birth_date: date | None = None
    phone: str | None = Field(default=None, max_length=20)
    institution: Institution
    department: str | None = Field(default=None, max_length=100)
    practice_category: PracticeCategory
    physician_level: PhysicianLevel
    procedure: Procedure
    exemptions: list[Literal["humanities", "professional"]] = Field(default_factory=list)
    evaluation: Evaluations
    photo: PhotoRef | None = None
    updated_at: AwareDatetime | None = None

    @field_validator("id_number")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        return "".join(value.split())


class CycleInfo(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    starts_on: date
    ends_on: date


class RosterPage(BaseModel):
    """The page envelope; items stay raw so one bad item does not hide the others."""

    cycle: CycleInfo
    items: list[dict[str, object]]
    next_cursor: str | None = None


def error_fields(exc: Exception, values: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(field, reason) pairs of a pydantic ValidationError, in Chinese (the one formatter)."""
    if not isinstance(exc, ValidationError):
        return [("-", str(exc))]
    return [(d["field"], d["message"]) for d in field_errors(exc, values)]


# A roster file's problems, row by row (the file is stored whole or not at all).
@dataclass(frozen=True)
class RowProblem:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


class RosterFileError(Invalid):
    """A roster file with problems; ``details`` has one ``{row, column, message}`` each."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(
            "invalid_file",
            N_("名单文件有错误，未导入任何数据"),
            [p.as_dict() for p in problems],
        )
        self.args = (f"{len(problems)} problem(s) in the roster file",)
        self.problems = problems

    def __reduce__(self) -> tuple[Any, ...]:  # raised in a worker process, re-raised here
        return (RosterFileError, (self.problems,))


class AllowanceForm(BaseModel):
    """每次测评延长时间（分钟）, 0–240."""

    minutes: int = Field(ge=0, le=240)


ALLOWANCE_LABELS = {"minutes": N_("每次测评延长时间（分钟）")}
