"""One JSON error shape for the whole API, and friendly HTML error pages."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, TypeVar, cast, get_args, get_origin

from flask import Flask, current_app, flash, g, jsonify, render_template, request, session
from flask_wtf.csrf import CSRFError
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from examsvc import metrics
from examsvc.errors import DomainError, Invalid, field_errors
from examsvc.marks import N_
from examsvc.web.i18n import gettext

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2  # what a 503 database_unavailable asks the client to wait
BUSY_RETRY_SECONDS = 2  # what a 503 busy asks the client to wait (its journal adds jitter)
SHED_LOG_SECONDS = 10.0  # one log line per process per this many seconds of shedding


def pool_exhausted(exc: BaseException) -> bool:
    """No pooled database connection came free within ``EXAMSVC_DB_POOL_TIMEOUT``: the
    process has more work than its connections serve. Nothing was done; answered busy."""
    return isinstance(exc, sa_exc.TimeoutError)


def database_trouble(exc: BaseException) -> bool:
    """The database went away (PostgreSQL restarted, a connection terminated, SQLite locked
    for too long): nothing was committed, and the same request may be sent again (saves are
    idempotent by ``seq``). An exhausted pool is not this: see :func:`pool_exhausted`."""
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return False


def database_unavailable() -> ApiError:
    return ApiError(
        503,
        "database_unavailable",
        N_("服务暂时无法访问数据库，请稍后重试"),
        retry_after=RETRY_AFTER_SECONDS,
    )


def busy(cause: str) -> ApiError:
    """Overload shed on purpose: 503 ``busy`` with ``retry_after`` (and ``Retry-After`` over
    HTTP); nothing was done, the same request may be sent again after that many seconds.
    ``cause`` (``database_pool``, ``face_pool``, ``threads``, ``processes``, ``starts``) labels the
    ``examsvc_shed`` counter."""
    return ApiError(
        503, "busy", N_("服务器繁忙，请稍后再试"), retry_after=BUSY_RETRY_SECONDS, cause=cause
    )


def database_refused() -> ApiError:
    """Data the database will not store (a NUL character in text on PostgreSQL, a number
    past its column): 422 ``invalid``; sending it again will not help."""
    return ApiError(422, "invalid", N_("提交的内容含有无法保存的字符或数值，请检查后重试"))


def internal_error() -> ApiError:
    """Any other failure: a 500 in the one shape (its traceback logged, never shown)."""
    return ApiError(500, "internal_server_error", N_("服务器繁忙，请稍后再试"))


def database_failure(exc: BaseException, what: str) -> ApiError | None:
    """The one mapping of a database failure to its answer, over HTTP (``handle_database``)
    and over Socket.IO (``web.sockets``, the camera's face events) alike: no pooled
    connection free in time: 503 ``busy``; data the database refuses: 422 ``invalid``; a
    database that went away: 503 ``database_unavailable``. None: not one of these."""
    if pool_exhausted(exc):  # shed: counted and logged (now and then) where it is answered
        return busy("database_pool")
    if isinstance(exc, sa_exc.DataError):  # e.g. a NUL character, which PostgreSQL refuses
        log.warning("%s: data refused by the database: %s", what, exc.__class__.__name__)
        return database_refused()
    if database_trouble(exc):
        log.warning("%s: database unavailable: %r", what, exc)
        return database_unavailable()
    return None


def failure(exc: BaseException, what: str) -> DomainError:
    """Any failure's answer: a refusal as it is, a database failure as
    :func:`database_failure` maps it, anything else a 500 (logged: ``what`` failed)."""
    if isinstance(exc, DomainError):
        return exc
    error = database_failure(exc, what)
    if error is None:
        log.error("%s failed", what, exc_info=exc)
        return internal_error()
    return error


class _ShedLog:
    """A log line about shedding at most every ``SHED_LOG_SECONDS``, with the count since
    the last one: under overload, a line (and a traceback) per refusal would add to it."""

    def __init__(self) -> None:
        self.last = 0.0
        self.count = 0

    def note(self, cause: str) -> None:
        self.count += 1
        moment = time.monotonic()
        if moment - self.last >= SHED_LOG_SECONDS:
            log.warning("busy: %d requests shed (latest: %s)", self.count, cause)
            self.last, self.count = moment, 0


_shed_log = _ShedLog()


def shed(channel: str, exc: DomainError) -> None:
    """Count (and now and then log) a 503 busy answered on ``channel`` (http or socket)."""
    if exc.code != "busy":
        return
    cause = getattr(exc, "cause", None) or "other"
    metrics.SHED.labels(channel, cause).inc()
    _shed_log.note(cause)


class ApiError(DomainError):
    """A refusal of the web tier itself (bad JSON, not logged in), with its HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        *,
        retry_after: int | None = None,
        cause: str | None = None,
        **values: object,
    ) -> None:
        super().__init__(code, message, details, status=status, **values)
        self.retry_after = retry_after
        self.cause = cause

    def to_dict(self) -> dict[str, Any]:
        return error_body(self)

    def to_ack(self) -> dict[str, Any]:
        return error_ack(self)


def error_body(exc: DomainError) -> dict[str, Any]:
    """The one error shape, as the HTTP body: ``{"error": {code, message, details}}``, the
    message and each detail's message translated."""
    body: dict[str, Any] = {
        "code": exc.code,
        "message": gettext(exc.message, **exc.values),
        "details": [
            {k: gettext(v) if k == "message" and isinstance(v, str) else v for k, v in d.items()}
            for d in exc.details
        ],
    }
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:  # a 503: when to send the same request again, in seconds
        body["retry_after"] = retry_after
    return {"error": body}


def error_ack(exc: DomainError) -> dict[str, Any]:
    """A Socket.IO acknowledgement: the HTTP body with ``ok`` and the HTTP status."""
    shed("socket", exc)
    return {"ok": False, "status": exc.status, **error_body(exc)}


def parse_json(model: type[BaseModel], data: Any | None = None) -> Any:
    """Validate a JSON body (or ``data``) with a pydantic model; 422 names each bad field."""
    if data is None:
        data = request.get_json(silent=True)
        if data is None:
            raise ApiError(400, "bad_json", N_("请求内容不是有效的 JSON"))
    return validate(model, data)


def validate(model: type[BaseModel], data: Any, values: dict[str, str] | None = None) -> Any:
    """``data`` as ``model``, or a 422 ``invalid`` that names each bad field (never the
    model's class name: "Input should be an object"); ``values`` (what was typed, by field)
    lets a message quote it."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid("invalid", N_("提交的内容有误"), field_errors(exc, values)) from None


def validate_form(model: type[M], data: dict[str, Any]) -> M:
    """``form_data`` read earlier, validated: a message quotes the value typed."""
    typed = {k: v for k, v in data.items() if isinstance(v, str)}
    return cast(M, validate(model, data, typed))


def form_model(model: type[M], form: Any | None = None) -> M:
    """An HTML form (``request.form``) as ``model``: forms take the same pydantic path as
    JSON. Invalid (422) names each bad field; ``form_data`` is what was read (to show the
    form again as it was typed)."""
    return validate_form(model, form_data(model, form))


def form_data(model: type[BaseModel], form: Any | None = None) -> dict[str, Any]:
    """The fields of ``model`` read from a form, before validation. A field left empty is
    left out (the model's default applies); a list field takes every value; a checkbox's
    ``on`` is true (pydantic reads it so). A list of models is a table of rows named
    ``<field>-<i>-<name>`` (``sections-0-bank``); a row counts when its ``FORM_ROW_KEY``
    field (any field, if the row model names none) is filled."""
    form = request.form if form is None else form
    return _read(model, form, "")


def _row_model(annotation: Any) -> type[BaseModel] | None:
    args = get_args(annotation)
    row = args[0] if get_origin(annotation) is list and args else None
    return row if isinstance(row, type) and issubclass(row, BaseModel) else None


def _read(model: type[BaseModel], form: Any, prefix: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = prefix + name
        rows = _row_model(field.annotation)
        if rows is not None:
            indexes = sorted(
                {
                    int(k[len(key) + 1 :].split("-", 1)[0])
                    for k in form
                    if k.startswith(f"{key}-") and k[len(key) + 1 :].split("-", 1)[0].isdigit()
                }
            )
            row_key = getattr(rows, "FORM_ROW_KEY", None)
            read = [_read(rows, form, f"{key}-{i}-") for i in indexes]
            data[name] = [r for r in read if (r.get(row_key) if row_key else r)]
            continue
        values = [v for v in form.getlist(key) if v.strip()]
        if values:
            data[name] = values if get_origin(field.annotation) is list else values[0]
    return data


def problems_of(exc: DomainError, labels: Mapping[str, str]) -> list[str]:
    """A refused form's problems in the form's words, one per bad field: 「{label}：{why}」,
    「第 {n} 行 {label}：{why}」 for a row of a table; the message alone where no field is named."""
    out = []
    for detail in exc.details or [{"message": exc.message}]:
        said = detail["message"]  # (not inside gettext's call: babel would extract the key)
        message = gettext(said, **(exc.values if not exc.details else {}))
        path = str(detail.get("field", "-")).split(".")
        if path[0] == "-":
            out.append(message)
        elif len(path) >= 3 and path[1].isdigit():
            label = gettext(labels.get(path[2], path[2]))
            out.append(
                gettext(
                    "第 {n} 行 {field}：{message}", n=int(path[1]) + 1, field=label, message=message
                )
            )
        else:
            label = gettext(labels.get(path[0], path[0]))
            out.append(gettext("{field}：{message}", field=label, message=message))
    return out


def refuse_form(
    exc: DomainError, name: str, labels: Mapping[str, str], typed: Mapping[str, Any]
) -> None:
    """A small form answered with a redirect: flash each problem and keep what was typed for
    the page's next rendering, where ``typed(name)`` gives it back (once)."""
    for problem in problems_of(exc, labels):
        flash(problem, "error")
    session[f"typed:{name}"] = dict(typed)


def typed(name: str) -> dict[str, Any]:
    """What was typed into the form ``name`` when it was last refused (template global)."""
    return cast(dict[str, Any], session.pop(f"typed:{name}", {}))


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.is_json


def init_app(app: Flask) -> None:
    app.jinja_env.globals["typed"] = typed

    @app.errorhandler(DomainError)
    def handle_api_error(exc: DomainError) -> Any:
        shed("http", exc)
        retry_after = getattr(exc, "retry_after", None)
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        if _wants_json():
            return jsonify(error_body(exc)), exc.status, headers
        if retry_after is not None:  # the page without its menu: no connection to read the user
            g.user = None
        return (
            render_template(
                "error.html", status=exc.status, message=gettext(exc.message, **exc.values)
            ),
            exc.status,
            headers,
        )

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError) -> Any:
        return handle_api_error(ApiError(400, "csrf", N_("页面已过期，请刷新后重试")))

    @app.errorhandler(sa_exc.SQLAlchemyError)
    def handle_database(exc: sa_exc.SQLAlchemyError) -> Any:
        """A database that went away answers a clear, retryable 503 (the page's journal
        keeps the save and sends it again), never a 500 with a traceback; the mapping is
        the socket's too (:func:`failure`)."""
        return handle_api_error(failure(exc, "request"))

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException) -> Any:
        messages = {
            400: N_("请求有误"),
            401: N_("请先登录"),
            403: N_("您没有权限访问此页面"),
            404: N_("页面不存在"),
            405: N_("不支持此操作"),
            429: N_("请求过于频繁，请稍后再试"),
        }
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        if status == 413:  # say the limit: the agency can split the file or shrink the photos
            limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
            return handle_api_error(
                ApiError(
                    status,
                    code,
                    N_("上传的文件太大：不能超过 {mb} MB"),
                    mb=limit // (1024 * 1024),
                )
            )
        return handle_api_error(
            ApiError(status, code, messages.get(status, N_("服务器繁忙，请稍后再试")))
        )
