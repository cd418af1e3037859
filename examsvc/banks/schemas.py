"""The banks' inputs: what an import names the bank (the form, else the file's own sheet)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from examsvc.enums import PaperKind, PracticeCategory
from examsvc.marks import N_


class BankFields(BaseModel):
    """题库编号, 名称, 类型 and, for a professional bank, 执业类别. A field left empty in the
    import form is taken from the file's own description, when it has one."""

    model_config = ConfigDict(str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: PaperKind
    category: PracticeCategory | None = None

    @model_validator(mode="after")
    def _category_for_professional(self) -> BankFields:
        if self.kind == PaperKind.PROFESSIONAL and self.category is None:
            raise ValueError(N_("业务水平题库须选择执业类别"))
        return self


class StudyForm(BaseModel):
    """开放学习 / 关闭学习: ``open`` is 1 or 0."""

    open: bool = False


LABELS = {
    "code": N_("题库编号"),
    "name": N_("题库名称"),
    "kind": N_("类型"),
    "category": N_("执业类别（业务水平题库）"),
}
