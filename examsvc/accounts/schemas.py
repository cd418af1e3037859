"""The accounts' inputs: the login body (JSON and the login form) and the staff form."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from examsvc.marks import N_


class LoginBody(BaseModel):
    login: Annotated[str, StringConstraints(strip_whitespace=True)] = Field(
        min_length=1, max_length=64
    )
    password: str = Field(min_length=1, max_length=128)


class StaffForm(BaseModel):
    """新建工作人员账号."""

    model_config = ConfigDict(str_strip_whitespace=True)

    role: Literal["admin", "invigilator", "viewer"]
    login: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)


class ActiveForm(BaseModel):
    """启用/停用: ``active`` is 1 or 0."""

    active: bool = False


def _mobile(value: str) -> str:
    if not (len(value) == 11 and value.isdigit() and value.startswith("1")):
        raise ValueError(N_("请输入11位手机号码"))
    return value


class PasswordForm(BaseModel):
    """修改密码 (and the mobile number, optional); the password rules are the operation's."""

    old: str = ""
    new: str = ""
    repeat: str = ""
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_mobile)] | None
    ) = None


class ConfirmForm(BaseModel):
    """A confirmation page's button sends ``confirm=1``."""

    confirm: bool = False


PASSWORD_LABELS = {"phone": N_("手机号码")}
STAFF_LABELS = {"role": N_("角色"), "login": N_("用户名"), "name": N_("姓名")}
