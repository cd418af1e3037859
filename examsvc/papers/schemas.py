"""A paper definition, as the JSON API, the editor and ``examsvc papers create`` give it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from examsvc.clock import BEIJING
from examsvc.enums import PaperKind, PhysicianLevel, PracticeCategory, WindowRound
from question_banks.types import QUESTION_TYPES


class SectionSpec(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=100)
    bank: str = Field(min_length=1, max_length=64, description="the bank's code")
    qtype: Literal["single", "multiple", "true_false", "case", "matching"]
    tags: list[str] = Field(default_factory=list)
    count: int = Field(ge=1, le=500)
    points_per_item: float = Field(gt=0, le=100)


class PaperSpec(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: PaperKind
    practice_categories: list[PracticeCategory] = Field(default_factory=list)
    physician_levels: list[PhysicianLevel] = Field(default_factory=list)
    duration_minutes: int = Field(ge=1, le=600)
    pass_mark: float = Field(gt=0, le=100)
    shuffle_questions: bool = True
    shuffle_options: bool = True
    attempt_limit_simple: int = Field(ge=1, le=100)
    attempt_limit_general: int = Field(ge=1, le=100)
    prerequisite: str | None = Field(
        default=None, description="code of the paper that must be passed first"
    )
    sections: list[SectionSpec] = Field(min_length=1, max_length=30)


class WindowChange(BaseModel):
    """``PATCH /api/v1/admin/windows/<id>``: new times (ISO 8601 with an offset)."""

    opens_at: AwareDatetime | None = Field(default=None, description="unchanged when left out")
    closes_at: AwareDatetime
    let_running_finish: bool = False


def _in_beijing(value: Any) -> Any:
    """A form's date and time (``datetime-local``: no offset) is Beijing time; one that names
    its offset keeps it; what is no date and time is left for pydantic to refuse."""
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
        return when if when.tzinfo else when.replace(tzinfo=BEIJING)
    return value


BeijingTime = Annotated[AwareDatetime, BeforeValidator(_in_beijing)]


class WindowTimes(BaseModel):
    """The window forms' times (add and change), read with ``form_model``."""

    opens_at: BeijingTime
    closes_at: BeijingTime


class NewWindowForm(WindowTimes):
    """添加考试时间: the paper, regular or makeup, and the times."""

    paper_id: int = Field(ge=1)
    round: WindowRound = WindowRound.REGULAR
    attempt_limit: int | None = Field(default=None, ge=1, le=10)  # makeup only; None: paper's


class WindowChangeForm(WindowTimes):
    """修改时间: the times, and whether running attempts keep their deadlines."""

    let_running_finish: bool = False
    attempt_limit: int | None = Field(default=None, ge=1, le=10)  # makeup only; None: paper's


def _tags(value: Any) -> Any:
    """知识点 as typed in a form: one text, comma-separated (either comma)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [t.strip() for v in value for t in str(v).replace("，", ",").split(",") if t.strip()]
    return value


class SectionForm(SectionSpec):
    """One row of the paper editor's blueprint table (``sections-<i>-<field>``): a row with
    no bank chosen is an unused row; a title left empty is the question type's name."""

    FORM_ROW_KEY: ClassVar[str] = "bank"

    title: str = Field(default="", max_length=100)
    tags: Annotated[list[str], BeforeValidator(_tags)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_title(self) -> SectionForm:
        if not self.title:
            self.title = QUESTION_TYPES[self.qtype].label_zh
        return self


class PaperForm(PaperSpec):
    """The paper editor's form: ``PaperSpec`` as a form gives it (read with ``form_model``);
    an unticked checkbox is not sent, so the shuffles are off unless ticked."""

    shuffle_questions: bool = False
    shuffle_options: bool = False
    sections: list[SectionForm] = Field(min_length=1, max_length=30)  # type: ignore[assignment]
