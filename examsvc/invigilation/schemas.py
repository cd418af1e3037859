"""The invigilation forms, read with ``web.errors.form_model`` (the one validation path)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from examsvc.marks import N_


class SiteForm(BaseModel):
    """新增考点."""

    model_config = ConfigDict(str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=300)


class SessionForm(BaseModel):
    """新增场次: the window, the site (none: online) and the session's name."""

    model_config = ConfigDict(str_strip_whitespace=True)

    window_id: int = Field(ge=1)
    site_id: int | None = Field(default=None, ge=1)
    name: str = Field(min_length=1, max_length=100)


class AssignForm(BaseModel):
    """A session's invigilators (user ids) and the candidates to add (one per line)."""

    candidates: str = ""
    invigilators: list[int] = Field(default_factory=list)


# The page's words for each field, to say which one is wrong.
SITE_LABELS = {"code": N_("考点编号"), "name": N_("考点名称"), "address": N_("地址")}
SESSION_LABELS = {"window_id": N_("考试时间"), "site_id": N_("考点"), "name": N_("场次名称")}
ASSIGN_LABELS = {"candidates": N_("添加考生"), "invigilators": N_("监考人员")}
