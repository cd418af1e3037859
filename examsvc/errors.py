"""Domain errors and the one formatter of pydantic errors.

Every refusal the rules make is a :class:`DomainError`: a stable ``code``, a ``message`` for
people (Chinese, translated where it is shown; ``{name}`` fields filled from ``values``),
``details`` (one ``{field, message}`` per bad field, or rows for files) and the HTTP
``status`` it maps to. ``examsvc.web.errors`` turns it into the one error shape, for HTTP
bodies and Socket.IO acknowledgements alike. This module imports nothing of Flask, so
operations (and pure rules) may raise these errors.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from examsvc.marks import N_, Text


class DomainError(Exception):
    """A refusal with a stable code; ``status`` is its HTTP status (409 unless said)."""

    status = 409

    def __init__(
        self,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        *,
        status: int | None = None,
        **values: object,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []
        self.values = values
        if status is not None:
            self.status = status


class Refused(DomainError):
    """An operation the rules do not allow now (starting, saving, logging in)."""


class Conflict(DomainError):
    """The request contradicts what is stored (a bank's kind, a duplicate code)."""


class Invalid(DomainError):
    """What was submitted cannot be accepted as it is; ``details`` says where."""

    status = 422


# One Chinese sentence per pydantic error type; ``{…}`` fields come from the error's ctx.
_MESSAGES = {
    "missing": N_("必须填写"),
    "string_too_short": N_("至少 {min_length} 个字符"),
    "string_too_long": N_("最多 {max_length} 个字符"),
    "too_short": N_("至少 {min_length} 项"),
    "too_long": N_("最多 {max_length} 项"),
    "greater_than": N_("应大于 {gt}"),
    "greater_than_equal": N_("不能小于 {ge}"),
    "less_than": N_("应小于 {lt}"),
    "less_than_equal": N_("不能大于 {le}"),
    "int_parsing": N_("应为整数"),
    "int_type": N_("应为整数"),
    "int_from_float": N_("应为整数"),
    "float_parsing": N_("应为数字"),
    "float_type": N_("应为数字"),
    "bool_parsing": N_("应为“是”或“否”"),
    "bool_type": N_("应为“是”或“否”"),
    "string_type": N_("应为文字"),
    "list_type": N_("应为列表"),
    "model_type": N_("应为对象"),
    "dict_type": N_("应为对象"),
    "model_attributes_type": N_("应为对象"),
    "extra_forbidden": N_("不允许此项"),
    "timezone_aware": N_("时间须带时区"),
    "datetime_parsing": N_("不是有效时间"),
    "datetime_type": N_("不是有效时间"),
    "datetime_from_date_parsing": N_("不是有效时间"),
}
_DATE = N_("{value} 不是有效日期（应如 1980-01-31）")
_CHOICE = N_("{value} 不是允许的取值")
_EMPTY = N_("不能为空")
_OTHER = N_("格式不正确")


def field_message(err: Any, value: str | None = None) -> str:
    """One pydantic error in Chinese; ``value`` (what the person typed) names it when known."""
    kind, ctx = err["type"], err.get("ctx") or {}
    shown = N_("“{value}”", value=value) if value else Text(N_("空值"))
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return _EMPTY
    if kind in ("enum", "literal_error"):
        return N_(_CHOICE, value=shown)
    if kind.startswith("date_"):
        return N_(_DATE, value=shown)
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind in _MESSAGES:
        fields = {k: v for k, v in ctx.items() if f"{{{k}}}" in _MESSAGES[kind]}
        return N_(_MESSAGES[kind], **fields)
    return _OTHER


def field_errors(
    exc: ValidationError, values: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """``[{field, message}]`` for each bad field of ``exc``: the dotted path (``-`` for the
    whole) and the reason in Chinese; ``values`` gives what was typed, by field (dotted or
    top-level)."""
    values = values or {}
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "-"
        top = str(err["loc"][0]) if err["loc"] else ""
        value = values.get(field, values.get(top))
        if value is None:
            value = _echoed(err)
        out.append({"field": field, "message": field_message(err, value)})
    return out


def _echoed(err: Any) -> str | None:
    """The value given, when the error is about a choice or a date: a short code or date
    such as ``surgery`` or ``1980-13-01`` (never free text, which may be personal)."""
    given = err.get("input")
    if not (err["type"] in ("enum", "literal_error") or err["type"].startswith("date_")):
        return None
    if isinstance(given, bool) or not isinstance(given, str | int) or given == "":
        return None
    text = str(given)
    return text if len(text) <= 32 else None
