"""One JSON error shape for the whole API, and friendly HTML error pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from examsvc.marks import N_
from examsvc.web.i18n import gettext


class ApiError(Exception):
    """An error with a stable code and a message for people (Chinese, translated)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        **values: object,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.values = values
        self.details = details or []

    def to_dict(self) -> dict[str, Any]:
        """The HTTP body."""
        return {
            "error": {
                "code": self.code,
                "message": gettext(self.message, **self.values),
                "details": self.details,
            }
        }

    def to_ack(self) -> dict[str, Any]:
        """A Socket.IO acknowledgement: the HTTP body with ``ok`` and the HTTP status."""
        return {"ok": False, "status": self.status, **self.to_dict()}


def parse_json(model: type[BaseModel], data: Any | None = None) -> Any:
    """Validate a JSON body (or ``data``) with a pydantic model; 422 names each bad field."""
    if data is None:
        data = request.get_json(silent=True)
        if data is None:
            raise ApiError(400, "bad_json", N_("请求内容不是有效的 JSON"))
    return validate(model, data)


def validate(model: type[BaseModel], data: Any) -> Any:
    """``data`` as ``model``, or a 422 ``invalid`` that names each bad field (never the
    model's class name: "Input should be an object")."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(p) for p in err["loc"]),
                "message": "Input should be an object"
                if err["type"] == "model_type"
                else err["msg"],
            }
            for err in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise ApiError(422, "invalid", N_("提交的内容有误"), details) from None


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.is_json


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError) -> Any:
        if _wants_json():
            return jsonify(exc.to_dict()), exc.status
        return render_template(
            "error.html", status=exc.status, message=gettext(exc.message, **exc.values)
        ), exc.status

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError) -> Any:
        return handle_api_error(ApiError(400, "csrf", N_("页面已过期，请刷新后重试")))

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException) -> Any:
        messages = {
            400: N_("请求有误"),
            401: N_("请先登录"),
            403: N_("您没有权限访问此页面"),
            404: N_("页面不存在"),
            405: N_("不支持此操作"),
            413: N_("上传的文件太大"),
            429: N_("请求过于频繁，请稍后再试"),
        }
        status = exc.code or 500
        return handle_api_error(
            ApiError(
                status,
                (exc.name or "error").lower().replace(" ", "_"),
                messages.get(status, N_("服务器繁忙，请稍后再试")),
            )
        )
